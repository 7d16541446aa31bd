package smtp

import (
	"bytes"

	"github.com/emersion/go-sasl"
)

// saslServer is one SASL exchange.
type saslServer = sasl.Server

// maxSASLField bounds a user name or password.
const maxSASLField = 512

var errSASLMalformed = &Error{Code: 501, EnhancedCode: EnhancedCode{5, 5, 2}, Message: "Malformed authentication response"}

// plainServer is RFC 4616 PLAIN: authzid NUL authcid NUL passwd.
type plainServer struct {
	check func(username, password string) error
	done  bool
}

func newPlainServer(check func(username, password string) error) *plainServer {
	return &plainServer{check: check}
}

func (p *plainServer) Next(response []byte) ([]byte, bool, error) {
	if p.done {
		return nil, false, errSASLMalformed
	}
	if response == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	p.done = true
	parts := bytes.Split(response, []byte{0})
	if len(parts) != 3 || len(parts[1]) > maxSASLField || len(parts[2]) > maxSASLField {
		return nil, false, errSASLMalformed
	}
	if err := p.check(string(parts[1]), string(parts[2])); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// loginServer is the LOGIN mechanism (draft-murchison-sasl-login): the
// server asks for "Username:" and then "Password:".
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func newLoginServer(check func(username, password string) error) *loginServer {
	return &loginServer{check: check}
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		// An initial response carries the user name.
		fallthrough
	case 1:
		if len(response) > maxSASLField {
			return nil, false, errSASLMalformed
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		if len(response) > maxSASLField {
			return nil, false, errSASLMalformed
		}
		if err := l.check(l.username, string(response)); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return nil, false, errSASLMalformed
}
