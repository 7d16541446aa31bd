// Package extract finds the verification code in a captured SMS or e-mail,
// the way a person reading the message would, and says "no code" when
// there is none.
//
// # Pipeline
//
// ParseEmail decodes a raw RFC 5322 message (MIME tree, transfer
// encodings, charsets, RFC 2047 subjects) into a Message. Extract then
// analyses Subject, Text and HTMLToText(HTML) as one text:
//
//  1. Origin-bound line. A line "@example.com #123456" (the WebOTP / Apple
//     format) wins outright: its code is returned with confidence 1 and
//     the domain in Result.Domain.
//  2. Tokens. The text is split into words, numbers, letter+digit tokens,
//     single CJK characters and punctuation. Every Unicode decimal digit
//     counts as its ASCII digit and compatibility forms are folded
//     (NFKC/NFKD: full-width "１２３４" is "1234"); keyword matching is
//     also case- and diacritic-insensitive ("codigo" matches "código").
//  3. Keywords. One pass finds, leftmost-longest, positive keywords
//     (code nouns such as code/OTP/PIN/passcode/验证码/인증번호 weigh 1.0,
//     verification and sign-in words 0.85, confirm 0.7, enter/use 0.55) in
//     English, German, French, Spanish, Portuguese, Italian, Dutch,
//     Swedish, Polish, Turkish, Russian, Greek, Hebrew, Arabic, Hindi,
//     Indonesian, Vietnamese, Chinese, Japanese and Korean, and negative
//     context words (promo/coupon, order/invoice/tracking/reference,
//     call/phone, currencies and amount words, card/account/ending,
//     zip/postcode, street words, booking, months, copyright, units,
//     "No."/"ID"). A code word next to a negative one ("promo code",
//     "zip code", "barcode") stops counting as positive.
//  4. Candidates. Digit runs of 4–10; digits in equal groups joined by a
//     space or hyphen ("123 456", "123-456", "12 34 56", "1 2 3 4 5 6");
//     service prefixes G-, FB-, GG- (the prefix is dropped); letter+digit
//     tokens of 4–10 and equal hyphenated groups ("7X2-K9M" → "7X2K9M");
//     all-capital words of 4–10 letters only right after a code keyword
//     ("code: KPXZTQ").
//  5. Rules. A candidate is ruled out (score 0, with the reason) when it
//     is part of a URL or e-mail address, a phone number (leading "+",
//     unequal hyphen groups, "call ..."), a date or time (joined by / . :,
//     next to a month name, 2026年), a money amount (currency symbol or
//     code, "balance", decimals), a percentage, a card or account fragment
//     ("ending 4421", "****4421", "XX4421"), an order/invoice/tracking or
//     reference number ("order #…", "… is your tracking number", "No."),
//     a postcode ("IL 62701", ", 80331 München", "SW1A 1AA", "1012 AB",
//     "zip"), a street address ("2000 Main St", "Suite 1200"), an IP
//     address, a promo or discount code, a quantity with a unit, the
//     sender's own number, or on a copyright line. Softer penalties apply
//     to year-like numbers (1900–2099), yyyymmdd dates, "#123456",
//     word+number shapes (WINTER25) and identifier fragments.
//  6. Score. Each candidate takes its best keyword: weight × closeness,
//     closeness = 1 − D/18 where D counts the words between keyword and
//     candidate (CJK characters count half), plus 1.5 per line break and
//     1 per sentence boundary crossed; a keyword after the candidate counts
//     0.95, and one with another live candidate in between counts 0.6
//     ("code 482013. B001"). When the candidate follows a colon or a
//     copula ("… is 552190", "… lautet 730192") a code noun earlier in the
//     same sentence is its subject and counts as adjacent. A second keyword
//     nearby adds a quarter of its own score ("Enter 246810 to verify").
//     "Confirm" words weigh a fifth when the message is about a booking
//     ("Reservation confirmed … Confirmation code HMXQ4K2P9Z"). Layout
//     bonuses, scaled by the keyword evidence (full from 0.5 up): alone on
//     its line +0.15, introduced by ':' or "is" (or by a label line ending
//     in ':') +0.10, service prefix +0.15, in brackets +0.05, six
//     characters +0.05, repeated in the message +0.05. Letter+digit tokens
//     more than 5 words from their keyword count half. No keyword nearby
//     means score 0: a number alone is not a code.
//  7. Decision. Occurrences of the same code are merged (best score).
//     Candidates are ranked by score; ties (equal to 1e-9) go to the code
//     that appears more often, then to the one that appears first
//     (Subject, then Text, then HTML). If the best score is below
//     Threshold the result has no code. Confidence is the best score
//     reduced by the runner-up: best × (1 − runnerUp/(2·best)).
//
// The package is pure: no I/O and no mutable package state (the keyword
// tables are built once at init and only read). Every step is linear in
// the input and bounded by MaxEmailSize / MaxTextSize.
package extract
