package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
)

var errPolicyNotFound = agentotp.Errorf(agentotp.ENotFound, "no such policy")

// ListPolicies returns the owner's policies, position 1 first.
func (s *Service) ListPolicies(ctx context.Context, ownerID string) ([]*agentotp.Policy, error) {
	ps, err := s.store.ListPolicies(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return ps, nil
}

// GetPolicy returns one policy of the owner; another owner's policy is
// NOT_FOUND.
func (s *Service) GetPolicy(ctx context.Context, ownerID, id string) (*agentotp.Policy, error) {
	p, err := s.store.GetPolicy(ctx, ownerID, id)
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errPolicyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get policy: %w", err)
	}
	return p, nil
}

// checkPolicy validates p and checks that the agent it names belongs to
// the owner.
func (s *Service) checkPolicy(ctx context.Context, ownerID string, p *agentotp.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if id := p.Conditions.AgentID; id != "" {
		_, err := s.store.GetAgent(ctx, ownerID, id)
		if errors.Is(err, agentotp.ErrNotFound) {
			return agentotp.FieldErr("conditions.agent_id", "no such agent")
		}
		if err != nil {
			return fmt.Errorf("check policy agent: %w", err)
		}
	}
	return nil
}

// policyDetails describes a policy for its audit entry.
func policyDetails(op string, p *agentotp.Policy) map[string]string {
	d := map[string]string{
		"op": op, "policy_id": p.ID, "name": p.Name, "action": p.Action,
		"position": strconv.Itoa(p.Position), "enabled": strconv.FormatBool(p.Enabled),
	}
	c := p.Conditions
	if c.AgentID != "" {
		d["agent_id"] = c.AgentID
	}
	if len(c.Sources) > 0 {
		d["sources"] = strings.Join(agentotp.ChannelNames(c.Sources), ",")
	}
	if c.SenderPattern != "" {
		d["sender_pattern"] = c.SenderPattern
	}
	if c.ReasonPattern != "" {
		d["reason_pattern"] = c.ReasonPattern
	}
	if c.Hours != "" {
		d["hours"] = c.Hours
	}
	if p.MaxPerHour != nil {
		d["max_per_hour"] = strconv.Itoa(*p.MaxPerHour)
	}
	return d
}

func (s *Service) policyAudit(ownerID, op string, p *agentotp.Policy, at time.Time) agentotp.AuditEntry {
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditPolicyChanged, at)
	e.Details = policyDetails(op, p)
	return e
}

// CreatePolicy adds a policy for the owner at p.Position (0: at the end).
// The id, owner and times are set here; the change is audited.
func (s *Service) CreatePolicy(ctx context.Context, ownerID string, p agentotp.Policy) (*agentotp.Policy, error) {
	if err := s.checkPolicy(ctx, ownerID, &p); err != nil {
		return nil, err
	}
	existing, err := s.store.ListPolicies(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("create policy: %w", err)
	}
	if len(existing) >= agentotp.MaxPoliciesPerOwner {
		return nil, agentotp.Errorf(agentotp.EConflict, "an owner may have at most %d policies", agentotp.MaxPoliciesPerOwner)
	}
	now := s.Now()
	p.ID, p.OwnerID, p.CreatedAt, p.UpdatedAt = agentotp.NewID("pol_"), ownerID, now, now
	p.Conditions.Sources = slices.Clone(p.Conditions.Sources)
	if p.Position <= 0 || p.Position > len(existing)+1 {
		p.Position = len(existing) + 1
	}
	if err := s.store.CreatePolicy(ctx, &p, s.policyAudit(ownerID, "created", &p, now)); err != nil {
		return nil, fmt.Errorf("create policy: %w", err)
	}
	s.log.InfoContext(ctx, "policy created", "policy_id", p.ID, "action", p.Action, "position", p.Position)
	return &p, nil
}

// UpdatePolicy replaces the owner's policy id with p (Position 0 keeps its
// place; another moves it there). The change is audited.
func (s *Service) UpdatePolicy(ctx context.Context, ownerID, id string, p agentotp.Policy) (*agentotp.Policy, error) {
	if err := s.checkPolicy(ctx, ownerID, &p); err != nil {
		return nil, err
	}
	old, err := s.GetPolicy(ctx, ownerID, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	p.ID, p.OwnerID, p.CreatedAt, p.UpdatedAt = id, ownerID, old.CreatedAt, now
	p.Conditions.Sources = slices.Clone(p.Conditions.Sources)
	audited := p
	if audited.Position == 0 {
		audited.Position = old.Position
	}
	err = s.store.UpdatePolicy(ctx, &p, s.policyAudit(ownerID, "updated", &audited, now))
	if errors.Is(err, agentotp.ErrNotFound) {
		return nil, errPolicyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("update policy: %w", err)
	}
	s.log.InfoContext(ctx, "policy updated", "policy_id", p.ID, "action", p.Action, "position", p.Position)
	return &p, nil
}

// DeletePolicy removes the owner's policy id. The change is audited.
func (s *Service) DeletePolicy(ctx context.Context, ownerID, id string) error {
	old, err := s.GetPolicy(ctx, ownerID, id)
	if err != nil {
		return err
	}
	err = s.store.DeletePolicy(ctx, ownerID, id, s.policyAudit(ownerID, "deleted", old, s.Now()))
	if errors.Is(err, agentotp.ErrNotFound) {
		return errPolicyNotFound
	}
	if err != nil {
		return fmt.Errorf("delete policy: %w", err)
	}
	s.log.InfoContext(ctx, "policy deleted", "policy_id", id)
	return nil
}

// OwnerSettings returns the owner's settings.
func (s *Service) OwnerSettings(ctx context.Context, ownerID string) (*agentotp.OwnerSettings, error) {
	st, err := s.store.GetOwnerSettings(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("owner settings: %w", err)
	}
	return st, nil
}

// SetTimeZone sets the owner's time zone (an IANA name; "" means UTC), in
// which policy hours are read. The change is audited.
func (s *Service) SetTimeZone(ctx context.Context, ownerID, tz string) (*agentotp.OwnerSettings, error) {
	if err := agentotp.ValidateTimeZone(tz); err != nil {
		return nil, err
	}
	now := s.Now()
	st := &agentotp.OwnerSettings{OwnerID: ownerID, TimeZone: tz, UpdatedAt: now}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSettingsChanged, now)
	e.Details = map[string]string{"time_zone": tz}
	if err := s.store.SaveOwnerSettings(ctx, st, e); err != nil {
		return nil, fmt.Errorf("set time zone: %w", err)
	}
	return st, nil
}

// policyDenyReason is what the agent sees when a policy denies.
const policyDenyReason = "denied by the owner's policy"

// applyPolicies decides the new request r (not yet stored) by the owner's
// policies and returns the audit entries of the decision, and the cap to
// store it under (nil for none). On ask it changes nothing.
func (s *Service) applyPolicies(ctx context.Context, r *agentotp.Request, now time.Time) ([]agentotp.AuditEntry, *agentotp.RequestCap, error) {
	ps, err := s.store.ListPolicies(ctx, r.OwnerID)
	if err != nil {
		return nil, nil, fmt.Errorf("load policies: %w", err)
	}
	if len(ps) == 0 {
		return nil, nil, nil
	}
	st, err := s.store.GetOwnerSettings(ctx, r.OwnerID)
	if err != nil {
		return nil, nil, fmt.Errorf("load owner settings: %w", err)
	}
	d := agentotp.EvaluatePolicies(ps, r, now, st.Location())
	if d.Policy == nil {
		return nil, nil, nil
	}
	by := agentotp.DecidedByPolicy(d.Policy.ID)
	details := map[string]string{"policy_id": d.Policy.ID, "policy_name": d.Policy.Name}
	switch d.Action {
	case agentotp.PolicyAutoApprove:
		if err := r.Approve(by, now); err != nil {
			return nil, nil, err
		}
		var c *agentotp.RequestCap
		if d.Policy.MaxPerHour != nil {
			c = &agentotp.RequestCap{AgentID: r.AgentID, DecidedBy: by, Since: now.Add(-time.Hour), Max: *d.Policy.MaxPerHour}
		}
		return []agentotp.AuditEntry{s.requestAudit(r, by, agentotp.AuditRequestApproved, now, details)}, c, nil
	case agentotp.PolicyDeny:
		if err := r.Deny(by, policyDenyReason, now); err != nil {
			return nil, nil, err
		}
		details["deny_reason"] = policyDenyReason
		return []agentotp.AuditEntry{s.requestAudit(r, by, agentotp.AuditRequestDenied, now, details)}, nil, nil
	}
	return nil, nil, nil // ask
}

// storeNewRequest stores a new request that policies may have decided.
// When an auto-approving policy's cap is reached the request is stored
// pending instead (the policy falls back to ask), with an audit note.
func (s *Service) storeNewRequest(ctx context.Context, r *agentotp.Request, created []agentotp.AuditEntry, now time.Time) error {
	if r.Test {
		return s.store.CreateRequest(ctx, r, created...)
	}
	asked := *r // the request before any policy decides it
	decision, capped, err := s.applyPolicies(ctx, r, now)
	if err != nil {
		return err
	}
	audit := slices.Concat(created, decision)
	if capped == nil {
		return s.store.CreateRequest(ctx, r, audit...)
	}
	err = s.store.CreateRequestCapped(ctx, r, *capped, audit...)
	if !errors.Is(err, agentotp.ErrCapReached) {
		return err
	}
	// Over the cap: the policy falls back to ask. Its approval was never
	// stored; the request is stored as the state machine made it, pending.
	*r = asked
	note := s.requestAudit(r, capped.DecidedBy, agentotp.AuditPolicyCapReached, now, map[string]string{
		"max_per_hour": strconv.Itoa(capped.Max),
	})
	return s.store.CreateRequest(ctx, r, slices.Concat(created, []agentotp.AuditEntry{note})...)
}
