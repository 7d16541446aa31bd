package seal

import "fmt"

// MessageText is the plaintext of encrypted_content: the message text,
// preceded by "Subject: …" and a blank line when the message has a
// subject.
func MessageText(subject, text string) string {
	if subject == "" {
		return text
	}
	return "Subject: " + subject + "\n\n" + text
}

// SealOTP seals a code to key for the request requestID (its
// encrypted_payload) and, when withMessage is set and the key is an HPKE
// one, the message text as MessageText builds it (its encrypted_content;
// nil otherwise). The relay, when it matches a message itself, and edge
// capture both seal with it, so that an agent opens either the same way.
func SealOTP(key *PublicKey, requestID, code string, withMessage bool, subject, text string) (payload, content []byte, err error) {
	payload, err = key.Seal(requestID, []byte(code))
	if err != nil {
		return nil, nil, fmt.Errorf("seal the code for %s: %w", requestID, err)
	}
	if withMessage && !key.Algorithm().IsRSA() {
		if content, err = key.Seal(requestID, []byte(MessageText(subject, text))); err != nil {
			return nil, nil, fmt.Errorf("seal the message for %s: %w", requestID, err)
		}
	}
	return payload, content, nil
}
