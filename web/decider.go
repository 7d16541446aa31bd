package web

import (
	"context"
	"strings"

	"github.com/agentotp/agentotp"
)

// decider says in words who decided a request, for the owner reading the
// dashboard: "you", a policy by its name (linked while it exists), or the
// agent's test key. The stored value (decided_by) is the API's, not a
// person's word.
type decider struct {
	Words string
	Href  string // the policy's page, when a policy that still exists decided
}

// policyNames maps the owner's policy ids to their names.
func (s *Server) policyNames(ctx context.Context, ownerID string) (map[string]string, error) {
	ps, err := s.svc.ListPolicies(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m, nil
}

// decidedBy turns a decided_by value into words; policies maps policy ids
// to names.
func decidedBy(by string, policies map[string]string) decider {
	switch {
	case by == "":
		return decider{}
	case by == agentotp.DecidedByOwner:
		return decider{Words: "you"}
	case by == agentotp.DecidedByTestKey:
		return decider{Words: "the test key (approved at once)"}
	case strings.HasPrefix(by, "policy:"):
		id := strings.TrimPrefix(by, "policy:")
		if name, ok := policies[id]; ok {
			return decider{Words: "policy “" + name + "”", Href: "/policies/" + id}
		}
		return decider{Words: "a policy since deleted (" + id + ")"}
	}
	return decider{Words: by}
}
