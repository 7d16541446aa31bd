package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentotp/agentotp"
)

// MaxNameLen bounds agent and source names.
const MaxNameLen = 100

func validateName(name string) error {
	n := utf8.RuneCountInString(name)
	if strings.TrimSpace(name) == "" || n > MaxNameLen || !utf8.ValidString(name) || hasControl(name) {
		return agentotp.FieldErr("name", "must be 1–%d characters of UTF-8", MaxNameLen)
	}
	return nil
}

// NewAgent is a created agent with its secrets, shown once.
type NewAgent struct {
	Agent         *agentotp.Agent
	APIKey        string
	WebhookSecret string
}

// CreateAgent creates an agent of the owner with a new API key.
func (s *Service) CreateAgent(ctx context.Context, ownerID, name string, test bool) (*NewAgent, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	now := s.Now()
	prefix := agentotp.PrefixLiveKey
	if test {
		prefix = agentotp.PrefixTestKey
	}
	a := &agentotp.Agent{ID: agentotp.NewID("agt_"), OwnerID: ownerID, Name: name, Test: test, WebhookSecret: agentotp.NewWebhookSecret(), CreatedAt: now}
	key, cred := newCredential(prefix, agentotp.CredentialAgent, ownerID, now)
	cred.AgentID = a.ID
	a.KeyPrefix = cred.Prefix
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditAgentCreated, now)
	e.AgentID = a.ID
	e.Details = map[string]string{"name": name, "test": fmt.Sprint(test), "key_prefix": cred.Prefix}
	if err := s.store.CreateAgent(ctx, a, cred, e); err != nil {
		return nil, fmt.Errorf("create agent: %w", err)
	}
	s.log.InfoContext(ctx, "agent created", "agent_id", a.ID, "test", test)
	return &NewAgent{Agent: a, APIKey: key, WebhookSecret: a.WebhookSecret}, nil
}

// ListAgents lists the owner's agents.
func (s *Service) ListAgents(ctx context.Context, ownerID string) ([]*agentotp.Agent, error) {
	as, err := s.store.ListAgents(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}

// MaxRotateGrace bounds how long a rotated key keeps working.
const MaxRotateGrace = 24 * time.Hour

// RotateAgent gives the agent a new API key and webhook secret. The old
// key keeps working for grace (0: it stops at once).
func (s *Service) RotateAgent(ctx context.Context, ownerID, id string, grace time.Duration) (*NewAgent, error) {
	if grace < 0 || grace > MaxRotateGrace {
		return nil, agentotp.FieldErr("grace_period_seconds", "must be between 0 and %d", int(MaxRotateGrace.Seconds()))
	}
	a, err := s.store.GetAgent(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such agent")
	}
	if err != nil {
		return nil, fmt.Errorf("rotate agent: %w", err)
	}
	if !a.Active() {
		return nil, agentotp.Errorf(agentotp.EConflict, "the agent is revoked")
	}
	now := s.Now()
	prefix := agentotp.PrefixLiveKey
	if a.Test {
		prefix = agentotp.PrefixTestKey
	}
	key, cred := newCredential(prefix, agentotp.CredentialAgent, ownerID, now)
	cred.AgentID = a.ID
	a.KeyPrefix = cred.Prefix
	a.WebhookSecret = agentotp.NewWebhookSecret()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditAgentRotated, now)
	e.AgentID = a.ID
	e.Details = map[string]string{"key_prefix": cred.Prefix, "grace_seconds": fmt.Sprint(int(grace.Seconds()))}
	defer s.creds.changed() // the old key's revocation time is set
	if err := s.store.RotateAgentKey(ctx, a, cred, now.Add(grace), e); err != nil {
		return nil, fmt.Errorf("rotate agent: %w", err)
	}
	s.log.InfoContext(ctx, "agent key rotated", "agent_id", a.ID)
	return &NewAgent{Agent: a, APIKey: key, WebhookSecret: a.WebhookSecret}, nil
}

// RevokeAgent revokes the agent and its keys.
func (s *Service) RevokeAgent(ctx context.Context, ownerID, id string) (*agentotp.Agent, error) {
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditAgentRevoked, now)
	e.AgentID = id
	defer s.creds.changed()
	err := s.store.RevokeAgent(ctx, ownerID, id, now, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such agent")
	}
	if err != nil {
		return nil, fmt.Errorf("revoke agent: %w", err)
	}
	s.log.InfoContext(ctx, "agent revoked", "agent_id", id)
	if err := s.cancelAgentRequests(ctx, ownerID, id); err != nil {
		return nil, err
	}
	return s.store.GetAgent(ctx, ownerID, id)
}

// cancelAgentRequests ends every request of a revoked agent that is not
// final yet, so that none of them can take a message or be approved.
func (s *Service) cancelAgentRequests(ctx context.Context, ownerID, agentID string) error {
	for _, st := range []agentotp.Status{agentotp.StatusPending, agentotp.StatusApproved, agentotp.StatusReceived} {
		cursor := ""
		for {
			rs, next, err := s.store.ListRequests(ctx, agentotp.RequestQuery{OwnerID: ownerID, AgentID: agentID, Status: st, Limit: 100, Cursor: cursor})
			if err != nil {
				return fmt.Errorf("revoke agent: %w", err)
			}
			for _, r := range rs {
				_, err := s.update(ctx, r.ID, nil, func(r *agentotp.Request, now time.Time) (agentotp.AuditEntry, error) {
					if r.OwnerID != ownerID {
						return agentotp.AuditEntry{}, errOTPNotFound
					}
					if err := r.Cancel(now); err != nil {
						return agentotp.AuditEntry{}, err
					}
					return s.requestAudit(r, agentotp.ActorOwner, agentotp.AuditRequestCancelled, now, map[string]string{"why": "agent revoked"}), nil
				})
				if err != nil && agentotp.ErrorCode(err) == agentotp.EInternal {
					return fmt.Errorf("revoke agent: %w", err)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return nil
}

// NewSource is a created source with its token, shown once.
type NewSource struct {
	Source *agentotp.Source
	Token  string
}

// CreateSource creates a capture source of the owner.
func (s *Service) CreateSource(ctx context.Context, ownerID, name, kind string) (*NewSource, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	switch kind {
	case agentotp.SourceKindSMS, agentotp.SourceKindEmail, agentotp.SourceKindGeneric:
	default:
		return nil, agentotp.FieldErr("kind", `must be "sms", "email" or "generic"`)
	}
	now := s.Now()
	src := &agentotp.Source{ID: agentotp.NewID("src_"), OwnerID: ownerID, Name: name, Kind: kind, CreatedAt: now}
	token, cred := newCredential(agentotp.PrefixSourceToken, agentotp.CredentialSource, ownerID, now)
	cred.SourceID = src.ID
	src.KeyPrefix = cred.Prefix
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSourceCreated, now)
	e.SourceID = src.ID
	e.Details = map[string]string{"name": name, "kind": kind}
	if err := s.store.CreateSource(ctx, src, cred, e); err != nil {
		return nil, fmt.Errorf("create source: %w", err)
	}
	if err := s.keepSourceKey(ctx, src, token); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "source created", "source_id", src.ID, "kind", kind)
	return &NewSource{Source: src, Token: token}, nil
}

// ListSources lists the owner's sources.
func (s *Service) ListSources(ctx context.Context, ownerID string) ([]*agentotp.Source, error) {
	ss, err := s.store.ListSources(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	return ss, nil
}

// RevokeSource revokes a source and its token.
func (s *Service) RevokeSource(ctx context.Context, ownerID, id string) (*agentotp.Source, error) {
	now := s.Now()
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSourceRevoked, now)
	e.SourceID = id
	defer s.creds.changed()
	err := s.store.RevokeSource(ctx, ownerID, id, now, e)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, agentotp.Errorf(agentotp.ENotFound, "no such source")
	}
	if err != nil {
		return nil, fmt.Errorf("revoke source: %w", err)
	}
	s.log.InfoContext(ctx, "source revoked", "source_id", id)
	return s.store.GetSource(ctx, ownerID, id)
}

// ListAudit returns the owner's audit entries.
func (s *Service) ListAudit(ctx context.Context, q agentotp.AuditQuery) ([]agentotp.AuditEntry, error) {
	es, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return es, nil
}

// AuditReport is the result of verifying an owner's audit chain.
type AuditReport struct {
	Entries int                  `json:"entries"`
	OK      bool                 `json:"ok"`
	Break   *agentotp.ChainBreak `json:"break,omitempty"`
	Head    string               `json:"head,omitempty"`
	// HeadSeq is the Seq of the last entry, whose hash is Head: with it,
	// "HeadSeq:Head" is the head to export (agentotp.AuditHead).
	HeadSeq int64 `json:"head_seq,omitempty"`
	// Legacy counts the entries older than the keyed chain (unkeyed).
	Legacy int `json:"legacy_entries"`
	// CheckedHead is the exported head the chain was also checked against.
	CheckedHead string `json:"checked_head,omitempty"`
}

// VerifyAudit checks the owner's whole audit chain with the store's audit
// key.
func (s *Service) VerifyAudit(ctx context.Context, ownerID string) (*AuditReport, error) {
	return s.VerifyAuditHead(ctx, ownerID, nil)
}

// VerifyAuditHead checks the owner's whole audit chain, and, when head is
// not nil, that the chain still holds that earlier exported head: a log
// cut short or rewritten since fails, even if what is left is a valid
// chain.
func (s *Service) VerifyAuditHead(ctx context.Context, ownerID string, head *agentotp.AuditHead) (*AuditReport, error) {
	es, err := s.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID})
	if err != nil {
		return nil, err
	}
	rep := &AuditReport{Entries: len(es)}
	if rep.Break, err = s.store.VerifyAuditChain(ctx, ownerID, "", es); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	if rep.Break == nil && head != nil {
		rep.CheckedHead = head.String()
		rep.Break = agentotp.CheckHead(es, *head)
	}
	rep.OK = rep.Break == nil
	for _, e := range es {
		if e.Chain == agentotp.AuditChainLegacy {
			rep.Legacy++
		}
	}
	if len(es) > 0 {
		rep.Head, rep.HeadSeq = es[len(es)-1].Hash, es[len(es)-1].Seq
	}
	return rep, nil
}
