package seal

import "testing"

func BenchmarkSeal(b *testing.B) {
	ks := keys(b)
	code := []byte("123456")
	for _, a := range algorithms {
		pub := ks[a.alg].Public()
		b.Run(a.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := pub.Seal("otp_bench", code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	ks := keys(b)
	for _, a := range algorithms {
		k := ks[a.alg]
		ct, err := k.Public().Seal("otp_bench", []byte("123456"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(a.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Open("otp_bench", ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePublicKey measures what the relay pays per request to
// validate a public key (HPKE keys include a trial encapsulation).
func BenchmarkParsePublicKey(b *testing.B) {
	ks := keys(b)
	for _, a := range algorithms {
		s := ks[a.alg].Public().String()
		b.Run(a.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParsePublicKey(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
