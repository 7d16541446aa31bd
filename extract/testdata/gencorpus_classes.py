#!/usr/bin/env python3
"""Generates testdata/corpus/classes_*.jsonl: cases written for the classes
of misses and invented codes that a measurement on an independent set of
real messages found (see the README next to the corpus). Each case id starts
with its class, so that TestCorpus can report a pass rate per class.

Each SMS case: (id, sender, text, want[, sender_pattern]). `want` is the
code as a person would type it, or None. `sender_pattern`, when given, is
the sender pattern of the request waiting for the message: the case is
extracted with the context the relay would give it.
Run from extract/testdata:  python3 gencorpus_classes.py
"""
import base64, json, os, quopri

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
DATE = "Tue, 01 Dec 2026 08:00:00 +0000"

# ---- 1. context: a request names the sender ----
CTX = [
 ("ctx-bare-6", "ACME", "482193", "482193", "ACME*"),
 ("ctx-bare-6-other", "OTHER", "482193", None, "ACME*"),
 ("ctx-bare-6-nopattern", "ACME", "482193", None),
 ("ctx-bare-4", "22395", "2715", "2715", "22395"),
 ("ctx-bare-4-nocontext", "22395", "2715", None),
 ("ctx-bare-alnum", "Bolt", "5WGU8G", "5WGU8G", "bolt"),
 ("ctx-bare-alnum-other", "Lyft", "5WGU8G", None, "bolt"),
 ("ctx-bare-dashed", "Shopline", "123-456", "123456", "shop*"),
 ("ctx-bare-dashed-nocontext", "Shopline", "123-456", None),
 ("ctx-bare-prefixed", "Google", "G-830829", "830829", "google"),
 ("ctx-bare-spaced", "Revolut", "391 204", "391204", "revolut"),
 ("ctx-short-words", "ACME", "Acme: 558120", "558120", "ACME*"),
 ("ctx-short-words-2", "ACME", "ACME 771204 thanks", "771204", "ACME*"),
 ("ctx-short-hello", "Tinder", "Hi! 40917", "40917", "tinder"),
 ("ctx-short-alnum-words", "Vinted", "Vinted: K7Q2MX", "K7Q2MX", "vinted"),
 ("ctx-short-caps", "noreply@auth.example.com", "Sign in\n\nKCXFSMQQ", "KCXFSMQQ", "*@auth.example.com"),
 ("ctx-short-caps-nocontext", "Promo", "Big sale\n\nSUMMER", None),
 ("ctx-lone-letters-own-line", "Steam", "Steam\nFQW7R", "FQW7R", "steam"),
 ("ctx-phone-stays", "ACME", "Call us: +1 415 555 0134", None, "ACME*"),
 ("ctx-phone-stays-2", "ACME", "Questions? 0800 123 4567", None, "ACME*"),
 ("ctx-amount-stays", "ACME", "Paid $4821.50", None, "ACME*"),
 ("ctx-amount-stays-2", "BANK", "Debit INR 2500 a/c XX4421", None, "BANK"),
 ("ctx-date-stays", "ACME", "See you 12/03/2026", None, "ACME*"),
 ("ctx-date-stays-2", "ACME", "Due 2026-12-14", None, "ACME*"),
 ("ctx-order-stays", "ACME", "Order #482193 shipped", None, "ACME*"),
 ("ctx-tracking-stays", "DHL", "DHL: parcel 4829103745 out for delivery", None, "DHL"),
 ("ctx-card-stays", "BANK", "Card ending 4421 used", None, "BANK"),
 ("ctx-card-stays-2", "BANK", "****4421 blocked", None, "BANK"),
 ("ctx-year-stays", "ACME", "Happy 2027!", None, "ACME*"),
 ("ctx-time-stays", "ACME", "Pickup 14:30 today", None, "ACME*"),
 ("ctx-two-numbers", "ACME", "4821 or 7730", None, "ACME*"),
 ("ctx-long-message-no-help", "ACME", "Thanks for shopping with Acme. Your parcel with 3 items left our warehouse this morning and should arrive within two working days 48213.", None, "ACME*"),
 ("ctx-keyword-still-wins", "ACME", "Your Acme code is 661204. Ref 8812", "661204", "ACME*"),
 ("ctx-percent-stays", "ACME", "Save 2500% never", None, "ACME*"),
 ("ctx-postcode-stays", "ACME", "Visit us at 12 Main St, Springfield IL 62701", None, "ACME*"),
 ("ctx-url-stays", "ACME", "https://acme.example/r/482193", None, "ACME*"),
 ("ctx-email-sender", "Acme <no-reply@acme.com>", "309127", "309127", "*@acme.com"),
 ("ctx-email-sender-other", "Evil <no-reply@evil.example>", "309127", None, "*@acme.com"),
 ("ctx-short-is", "WeChat", "WeChat 8829", "8829", "wechat"),
 ("ctx-bare-8", "MSFT", "90127734", "90127734", "MSFT"),
]

# ---- 2. origin-bound codes (WICG format) ----
OBC = [
 ("obc-plain", "Example", "Your code is 123456.\n\n@example.com #123456", "123456"),
 ("obc-only-line", "Example", "@example.com #739201", "739201"),
 ("obc-letters", "Example", "Sign in to Example\n@example.com #ABCXYZ", "ABCXYZ"),
 ("obc-long", "Example", "Your magic code\n@login.example.com #K9X2PQ7ZR4M8W3", "K9X2PQ7ZR4M8W3"),
 ("obc-short", "Example", "Enter this\n@example.com #12", "12"),
 ("obc-punct", "Example", "Your one-time code:\n@example.com #12-34_ab", "12-34_ab"),
 ("obc-nonascii", "Example", "Ihr Code\n@beispiel.de #ÄÖÜ123", "ÄÖÜ123"),
 ("obc-embedded", "Example", "747723 is your ecommerce.example code.\n\n@ecommerce.example #747723 @payments.example", "747723"),
 ("obc-embedded-letters", "Example", "Use the code to pay\n@shop.example #PAY7Q @bank.example", "PAY7Q"),
 ("obc-extension", "Apple", "Your code is 448120\n\n@apple.com #448120 %apple.com", "448120"),
 ("obc-text-disagrees", "Example", "Use 111222 in the app.\n\n@example.com #947361", "947361"),
 ("obc-other-domain", "login@acme.com", "Your Acme code is 731904\n\n@evil.example #731904", None, "*@acme.com"),
 ("obc-same-site", "login@acme.com", "Your Acme code is 731904\n\n@login.acme.com #731904", "731904", "*@acme.com"),
 ("obc-embedded-matches", "login@acme.com", "Pay with Acme: 520114\n\n@shop.example #520114 @pay.acme.com", "520114", "*@acme.com"),
 ("obc-lookalike-domain", "login@acme.com", "Your code 660127\n\n@acme.com.evil.io #660127", None, "*@acme.com"),
 ("obc-not-last-line", "Example", "@example.com #482913\nReply STOP to opt out", "482913"),
 ("obc-tab-not-format", "Example", "Your code is 558201\n@example.com\t#999999", "558201"),
 ("obc-two-spaces-not-format", "Example", "Your code is 558202\n@example.com  #999999", "558202"),
 ("obc-no-space-not-format", "Example", "Your code is 558203\n@example.com#999999", "558203"),
 ("obc-mention-not-origin", "Twitter", "@alice #winning 2026", None),
 ("obc-hashtag-tweet", "X", "Great game tonight\n@team #goals", None),
 ("obc-no-code-after-hash", "Example", "Welcome to Example\n@example.com #", None),
 ("obc-trailing-newline", "Example", "Code 301927\n\n@example.com #301927\n", "301927"),
 ("obc-uppercase-host", "Example", "Your code\n@Example.COM #554211", "554211"),
]

# ---- 3a. three-character codes after a strong keyword ----
K3 = [
 ("k3-enter-code", "Example", "Please enter code 548", "548"),
 ("k3-code-is", "Clinic", "Your verification code is 907.", "907"),
 ("k3-otp-colon", "Bank", "OTP: 312. Do not share.", "312"),
 ("k3-pin", "Parking", "Your PIN: 047", "047"),
 ("k3-de", "Example", "Dein Bestätigungscode lautet 719", "719"),
 ("k3-es", "Example", "Tu código de verificación es 284", "284"),
 ("k3-alnum", "Example", "Your login code: K7Q", "K7Q"),
 ("k3-null-items", "Shop", "Your code for 3 items is ready at the desk", None),
 ("k3-null-room", "Hotel", "Room 548 is ready. Use your key card.", None),
 ("k3-null-gate", "Airline", "Flight BA117 boards at gate 212. Confirmation code HX7Q2P", None),
 ("k3-null-area", "Telco", "Call our hotline. Area code 415 numbers are free.", None),
 ("k3-null-far", "Example", "Get the verification code from the app. Then wait 120 seconds.", None),
 ("k3-null-minutes", "Example", "Your code expires in 10 minutes. Sent at 9:45", None),
 ("k3-null-status", "Server", "Error code 503: service unavailable", None),
]

# ---- 3b. dashed codes of unequal groups after a keyword ----
DASH = [
 ("dash-337-1337", "Example", "Your verification code: 337-1337", "3371337"),
 ("dash-1337-337", "Example", "verification code: 1337-337", "1337337"),
 ("dash-code-is-24", "Example", "Your Example login code is 12-3456", "123456"),
 ("dash-otp-4-2", "Bank", "OTP 4821-93 valid for 5 min", "482193"),
 ("dash-glued-letters", "Example", "verification code: 1337-1337XXX", None),
 ("dash-glued-letters-2", "Example", "Your code: 4821-9930ABC", None),
 ("dash-phone-no-keyword", "Shop", "Questions? Call 555-0134 or 415-555-0134", None),
 ("dash-phone-after-call", "Bank", "Your code was sent. If not you, call 800-555-0199", None),
 ("dash-equal-still", "WhatsApp", "Your WhatsApp code: 842-193", "842193"),
]

# ---- 3c. letters-only codes; code on the line after its keyword ----
LET = [
 ("let-passcode-lower", "Example", "PASSCODE: mifsuc", "mifsuc"),
 ("let-code-lower", "Example", "Your sign-in code is: qwvbrt", "qwvbrt"),
 ("let-otp-next-line", "Example", "One-Time Password:\nAAAAAAAA", "AAAAAAAA"),
 ("let-code-next-line", "Example", "Your verification code:\nHBQKZT\nIt expires in 10 minutes.", "HBQKZT"),
 ("let-mixed-case", "Example", "Login code: NaNNDbSI", "NaNNDbSI"),
 ("let-caps-is", "Example", "Your Example code is XKTRWP", "XKTRWP"),
 ("let-de-lower", "Example", "Ihr Einmalpasswort: hjkzrt", "hjkzrt"),
 ("let-null-word-after-code", "Example", "Use code wisely and keep it safe", None),
 ("let-null-code-is-word", "Example", "The code is simple: never share it.", None),
 ("let-null-password-is", "Example", "Your password is strong. No action needed.", None),
 ("let-null-code-red", "News", "Weather code: orange for the coast", None),
 ("let-null-promo-letters", "Shop", "Promo code: SUMMER for 20% off", None),
]

# ---- 3d. characters spelled out with spaces ----
SPC = [
 ("spc-tan-mixed", "Bank", "TAN a u 8 k u f", "au8kuf"),
 ("spc-code-caps", "Example", "Your code: X 7 Q 2 M P", "X7Q2MP"),
 ("spc-digits", "Example", "Verification code: 4 8 2 1 9 3", "482193"),
 ("spc-otp-letters", "Example", "OTP is K P X Z", "KPXZ"),
 ("spc-null-initials", "Example", "Code of conduct by A B C D E for all", None),
 ("spc-null-list", "School", "Your code group is a b c d e f g h i j k l", None),
]

# ---- 3e. keywords in many languages ----
LANG = [
 ("lang-fi-1", "Pankki", "Vahvistuskoodisi on 482913. Älä kerro sitä kenellekään.", "482913"),
 ("lang-fi-2", "OmaPosti", "Kertakäyttöinen salasana: 7301", "7301"),
 ("lang-fi-null", "Posti", "Pakettisi 48291374 on noudettavissa. Noutokoodi näkyy sovelluksessa.", None),
 ("lang-ca-1", "Servei", "El teu codi de verificació és 552190", "552190"),
 ("lang-ca-2", "Banc", "Contrasenya d'un sol ús: 8812", "8812"),
 ("lang-ca-null", "Botiga", "La teva comanda 55219 ha sortit del magatzem", None),
 ("lang-af-1", "Bank", "Jou verifikasiekode is 630192. Moet dit met niemand deel nie.", "630192"),
 ("lang-af-2", "Diens", "Eenmalige wagwoord: 9921", "9921"),
 ("lang-ru-translit-1", "Bank", "Vash kod podtverzhdeniya: 4829. Nikomu ne soobshchayte.", "4829"),
 ("lang-ru-translit-2", "Servis", "Kod dlya vhoda 773012", "773012"),
 ("lang-ru-translit-3", "Servis", "Parol dlya vhoda: 55812", "55812"),
 ("lang-he-inflected-1", "Bank", "קודך לאימות הוא 482913", "482913"),
 ("lang-he-inflected-2", "Service", "הקוד שלך: 7302", "7302"),
 ("lang-he-inflected-3", "Service", "סיסמתך החד פעמית היא 661204", "661204"),
 ("lang-fa-1", "Bank", "کد تایید شما: 482913", "482913"),
 ("lang-fa-2", "Digikala", "کد ورود به دیجی کالا 55821", "55821"),
 ("lang-fa-3", "Bank", "رمز یکبار مصرف: 73019", "73019"),
 ("lang-fa-null", "Shop", "سفارش شما با شماره 482913 ارسال شد", None),
 ("lang-2factor", "Example", "2factor authentication: 448211", "448211"),
 ("lang-bn-1", "bKash", "আপনার বিকাশ পাসকোড 482913। কাউকে বলবেন না।", "482913"),
 ("lang-bn-2", "Service", "আপনার যাচাইকরণ কোড হল ৭৩০১৯২", "730192"),
 ("lang-th-1", "Bank", "รหัส OTP ของคุณคือ 482913 (Ref: ABCD)", "482913"),
 ("lang-th-2", "Shopee", "รหัสยืนยันของคุณคือ 7730 ห้ามบอกผู้อื่น", "7730"),
 ("lang-th-null", "Shop", "คำสั่งซื้อ 482913 ของคุณถูกจัดส่งแล้ว", None),
 ("lang-mn-1", "Khan", "Таны баталгаажуулах код: 4829", "4829"),
 ("lang-mn-2", "Service", "Нэг удаагийн нууц үг: 773012", "773012"),
 ("lang-ky-1", "MBank", "Сиздин ырастоо кодуңуз: 5821", "5821"),
 ("lang-uz-1", "Click", "Tasdiqlash kodingiz: 482913. Hech kimga bermang.", "482913"),
 ("lang-uz-2", "Payme", "Bir martalik parol: 6612", "6612"),
 ("lang-ka-1", "TBC", "თქვენი ვერიფიკაციის კოდია 482913", "482913"),
 ("lang-ka-2", "Bank", "ერთჯერადი კოდი: 5503", "5503"),
 ("lang-et-1", "Swedbank", "Sinu kinnituskood on 7301", "7301"),
 ("lang-et-2", "Smart-ID", "Ühekordne parool: 558120", "558120"),
 ("lang-eu-1", "Zerbitzua", "Zure egiaztapen-kodea: 4829", "4829"),
 ("lang-eu-2", "Banku", "Behin erabiltzeko pasahitza 661204 da", "661204"),
 ("lang-ht-1", "Digicel", "Kòd verifikasyon ou se 5821", "5821"),
 ("lang-ht-2", "Natcom", "Modpas ou pou yon sèl fwa: 770192", "770192"),
 ("lang-sr-latn-1", "Banka", "Vaš verifikacioni kod je 482913", "482913"),
 ("lang-sr-latn-2", "Servis", "Jednokratna lozinka: 7730", "7730"),
 ("lang-sr-cyrl-1", "Банка", "Ваш верификациони код је 630192", "630192"),
 ("lang-sr-cyrl-2", "Сервис", "Једнократна лозинка: 5512", "5512"),
 ("lang-ur-1", "JazzCash", "آپ کا تصدیقی کوڈ 482913 ہے", "482913"),
 ("lang-mr-1", "Bank", "तुमचा पडताळणी कोड 7301 आहे", "7301"),
 ("lang-te-1", "Bank", "మీ ధృవీకరణ కోడ్ 482913", "482913"),
 ("lang-ta-1", "Bank", "உங்கள் சரிபார்ப்பு குறியீடு 558120", "558120"),
 ("lang-gu-1", "Bank", "તમારો ચકાસણી કોડ 6612 છે", "6612"),
 ("lang-pa-1", "Bank", "ਤੁਹਾਡਾ ਪੁਸ਼ਟੀ ਕੋਡ 7730 ਹੈ", "7730"),
 ("lang-kn-1", "Bank", "ನಿಮ್ಮ ಪರಿಶೀಲನಾ ಕೋಡ್ 482913", "482913"),
 ("lang-ml-1", "Bank", "നിങ്ങളുടെ സ്ഥിരീകരണ കോഡ് 5503 ആണ്", "5503"),
 ("lang-or-1", "Bank", "ଆପଣଙ୍କ OTP 4482", "4482"),
 ("lang-my-1", "KBZPay", "သင်၏ အတည်ပြုကုဒ်မှာ 482913 ဖြစ်သည်", "482913"),
 ("lang-am-1", "telebirr", "የማረጋገጫ ኮድዎ 7730 ነው", "7730"),
 ("lang-tl-1", "GCash", "Ang iyong verification code ay 558120. Huwag itong ibahagi.", "558120"),
 ("lang-sw-1", "M-PESA", "Msimbo wako wa uthibitisho ni 4829", "4829"),
 ("lang-sw-null", "M-PESA", "Umepokea Ksh 4829 kutoka kwa JOHN. Salio lako ni Ksh 12,000", None),
 ("lang-ha-1", "MTN", "Lambar tabbatarwarku ita ce 6612", "6612"),
 ("lang-uk-1", "Monobank", "Ваш код підтвердження: 482913", "482913"),
 ("lang-uk-2", "Privat24", "Одноразовий пароль для входу 7301", "7301"),
 ("lang-ro-1", "BT", "Codul tău de verificare este 558120", "558120"),
 ("lang-ro-null", "eMAG", "Comanda ta 55812004 a fost livrată", None),
 ("lang-cs-1", "Banka", "Váš ověřovací kód je 4829", "4829"),
 ("lang-cs-2", "Seznam", "Jednorázové heslo: 773012", "773012"),
 ("lang-sk-1", "Banka", "Váš overovací kód: 6612", "6612"),
 ("lang-hu-1", "OTP Bank", "A megerősítő kódod: 482913", "482913"),
 ("lang-hu-2", "Ügyfélkapu", "Egyszer használatos jelszó: 7730", "7730"),
 ("lang-ms-1", "Maybank", "Kod pengesahan anda ialah 558120", "558120"),
 ("lang-ms-2", "CIMB", "TAC anda: 4829. Jangan kongsi.", "4829"),
 ("lang-da-1", "MitID", "Din bekræftelseskode er 482913", "482913"),
 ("lang-no-1", "BankID", "Engangskode: 7301", "7301"),
 ("lang-bg-1", "Банка", "Вашият код за потвърждение е 558120", "558120"),
 ("lang-lt-1", "Swedbank", "Jūsų patvirtinimo kodas: 4829", "4829"),
 ("lang-lv-1", "Citadele", "Jūsu apstiprinājuma kods: 6612", "6612"),
 ("lang-sl-1", "NLB", "Vaša enkratna koda je 7730", "7730"),
 ("lang-hr-1", "Zaba", "Vaš jednokratni kod: 482913", "482913"),
 ("lang-sq-1", "Banka", "Kodi juaj i verifikimit është 5503", "5503"),
 ("lang-is-1", "Arion", "Staðfestingarkóðinn þinn er 4482", "4482"),
 ("lang-kk-1", "Kaspi", "Растау коды: 7301", "7301"),
 ("lang-az-1", "Kapital", "Təsdiq kodunuz: 558120", "558120"),
 ("lang-hy-1", "Ameria", "Ձեր հաստատման կոդը՝ 6612", "6612"),
 ("lang-ne-1", "eSewa", "तपाईंको प्रमाणीकरण कोड 4829 हो", "4829"),
 ("lang-si-1", "Dialog", "ඔබගේ OTP අංකය 7730", "7730"),
 ("lang-km-1", "ABA", "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ 482913", "482913"),
 ("lang-lo-1", "BCEL", "ລະຫັດຢືນຢັນຂອງທ່ານແມ່ນ 5503", "5503"),
 ("lang-yo-1", "GTBank", "Koodu ijerisi re ni 6612", "6612"),
 ("lang-zu-1", "FNB", "Ikhodi yakho yokuqinisekisa ithi 7301", "7301"),
 ("lang-ps-1", "Roshan", "ستاسو د تایید کوډ 4482 دی", "4482"),
 ("lang-null-mixed", "Bank", "Balance 4829.00 — Saldo 4829,00 — Баланс 4829 руб", None),
]

# ---- 3f. a brand with digits next to the keyword ----
BRAND = [
 ("brand-98point6", "98point6", "858365 is your 98point6 security code", "858365"),
 ("brand-7eleven", "7-Eleven", "Your 7-Eleven verification code is 402913", "402913"),
 ("brand-1password", "1Password", "Use 771204 as your 1Password verification code", "771204"),
 ("brand-23andme", "23andMe", "23andMe code: 558203", "558203"),
 ("brand-3m", "3M", "Your 3M Health login code: 440128", "440128"),
 ("brand-1800", "1-800-Flowers", "Your 1-800-Flowers code is 903711", "903711"),
]

# ---- 3g. codes without a digit, on their own line or in the subject ----
NODIG = [
 ("nodig-grouped-consonants", "noreply@auth.example.com", "Your login code is listed below. Please enter it in your open browser window.\n\nKCXF-SMQQ\n\nIf you didn't request this, ignore this message.", "KCXFSMQQ"),
 ("nodig-six-caps", "noreply@example.com", "Your login code is listed below. Please enter it in your open browser window.\n\nXQWTRP", "XQWTRP"),
 ("nodig-mixed-case", "noreply@example.com", "Your login code is listed below. Please enter it in your open browser window.\n\nNaNNDbSI", "NaNNDbSI"),
 ("nodig-grouped-2", "Example", "Here is your sign-in code:\n\nBQRT-MZKH", "BQRTMZKH"),
 ("nodig-below", "Example", "Use the code below to verify your email address.\n\nHJKWQP\n\nThe code expires in 15 minutes.", "HJKWQP"),
 ("nodig-null-heading", "Example", "Welcome to Example!\n\nGET STARTED\n\nYour account is ready.", None),
 ("nodig-null-below-word", "Example", "Your login code is listed below.\n\nThanks\n\nThe Example team", None),
 ("nodig-null-caps-name", "Example", "Please verify your email with the link below.\n\nACME CORP\n\nhttps://acme.example/verify?t=8fJ2kLq9", None),
]

# ---- 3h. grouped digits on a line of their own under a sentence ----
GRP = [
 ("grp-3-3", "noreply@example.com", "Your login code is listed below. Please enter it in your open browser window.\n\n771-453", "771453"),
 ("grp-3-3-3", "noreply@example.com", "Your login code is listed below. Please enter it in your open browser window.\n\n569-779-235", "569779235"),
 ("grp-below-space", "Example", "Enter the code below to finish signing in:\n\n448 120\n\nIt expires soon.", "448120"),
 ("grp-null-phone-line", "Example", "Questions? Our team is here to help.\n\n555-0134-2210", None),
]

# ---- 3i. a code set off between rules in a security notice ----
RULE = [
 ("rule-ip-notice", "security@example.com", "Hello,\n\nSomeone requested a one-time code to sign in to your account from IP address 203.0.113.45 (Berlin, Germany).\n\nIf this was you, use the code below:\n\n----------\nXPXEY6TP\n----------\n\nIf this wasn't you, change your password.", "XPXEY6TP"),
 ("rule-equals", "Example", "Your one-time code\n==========\n730192\n==========\nDo not share it.", "730192"),
 ("rule-stars", "Example", "Verification code\n**********\nK4QZ7W\n**********", "K4QZ7W"),
 ("rule-null-ip-only", "security@example.com", "New sign-in to your account from IP address 203.0.113.45.\n\n----------\nDevice: Chrome on Windows\n----------\nIf this wasn't you, reset your password.", None),
]

# ---- 4a. keywords inside longer words ----
WB = [
 ("wb-vscode", "GitHub", "Open the repo in vscode 1.96 and run task 4821", None),
 ("wb-fancode", "FanCode", "Watch live on FanCode: match 48213 starts at 7 PM", None),
 ("wb-pins", "Pinterest", "Your pins got 4829 views this week", None),
 ("wb-he-point", "Waze", "בנקודת ציון 48291 יש עומס", None),
 ("wb-de-decoder", "Shop", "Decoder Modell 48210 jetzt im Angebot", None),
 ("wb-encoded", "Dev", "Payload encoded in 77120 bytes", None),
 ("wb-codex", "Library", "Codex 4821 returned on time", None),
 ("wb-pinned", "Slack", "Message pinned in #general: meeting room 4821", None),
 ("wb-otpless", "Otpless", "Otpless onboarding guide 4821 pages", None),
 ("wb-still-compound", "Bank", "Ihr Anmeldecode: 552013", "552013"),
 ("wb-still-dutch", "Bank", "Je verificatiecode is 730192", "730192"),
]

# ---- 4b. a keyword in another sentence, or far away ----
SENT = [
 ("sent-context-word", "Example", "context word: code. One sentence. actual value 34343", None),
 ("sent-code-topic", "Example", "We updated our code of practice. Our new office opens at 4821 Elm.", None),
 ("sent-far", "Example", "Verify your identity online whenever you like. We are open every day of the week, including public holidays, and our branch team of 4821 people is ready.", None),
 ("sent-two-sentences", "Example", "Never share your PIN. We will never ask for it. Store number 7720.", None),
 ("sent-near-ok", "Example", "Your code. 482193", "482193"),
 ("sent-is-below", "Example", "Your verification code is below.\n\n730192", "730192"),
]

# ---- 4c. code nouns that are not one-time codes ----
NOUN = [
 ("noun-purchase", "Store", "Your purchase code: 48213579. Keep it for returns.", None),
 ("noun-promo", "Shop", "Use promo code 4821 at checkout", None),
 ("noun-voucher", "Cafe", "Your voucher code is 55812", None),
 ("noun-coupon", "Shop", "Coupon code 7730 gives you 10% off", None),
 ("noun-discount", "Shop", "Discount code: 9021", None),
 ("noun-gift", "Store", "Your gift card code: 4421 8812 9930", None),
 ("noun-gift-2", "Store", "Gift code 661204 was added to your wallet", None),
 ("noun-reference", "Bank", "Reference code 55821034 for your transfer", None),
 ("noun-booking", "Hotel", "Booking code: 77301 for 2 nights", None),
 ("noun-order-confirm", "Shop", "Order confirmation code: 482193. Thank you for your order!", None),
 ("noun-confirmation-order", "Shop", "Thanks! Confirmation of order 88201734 is attached.", None),
 # a pickup code is typed at the locker: a code, as elsewhere in the corpus
 ("noun-pickup-typed", "Locker", "Pickup code for your parcel: 4829", "4829"),
 ("noun-tracking", "Post", "Tracking code 7730 4412 9921", None),
 ("noun-ticket", "Cinema", "Ticket code: 558120, seat 12", None),
 ("noun-redeem", "Game", "Redeem code 4821 in the store", None),
 ("noun-referral", "App", "Your referral code: 77120", None),
 ("noun-es-compra", "Tienda", "Tu código de compra es 48213", None),
 ("noun-de-gutschein", "Shop", "Ihr Gutscheincode lautet 55812", None),
 ("noun-fr-reduction", "Boutique", "Votre code de réduction : 7730", None),
 ("noun-still-otp", "Shop", "Your Shop verification code is 730192. Promo codes are in the app.", "730192"),
]

# ---- 4d. masked digits in bank notices ----
MASK = [
 ("mask-entered-wrongly", "Bank", "Dear customer, the PIN for card 0000*0000000 was entered wrongly 3 times. The card is blocked.", None),
 ("mask-stars-mid", "Bank", "Your OTP request for a/c 1234****5678 was declined", None),
 ("mask-x-run", "Bank", "Code request for account XXXXXX4821 received. Call us if not you.", None),
 ("mask-bullets", "Bank", "Security code not needed for card ••••4421", None),
 ("mask-with-code", "Bank", "OTP 661204 for card 4421****8812. Do not share.", "661204"),
]

# ---- 4e. IPv6 groups and footer postcodes ----
IPV6 = [
 ("ipv6-notice", "security@example.com", "New sign-in code request from 2a02:d3c2:dfc9:6fa1::ab4. If this was not you, secure your account.", None),
 ("ipv6-full", "security@example.com", "Login verification from IP 2001:0db8:85a3:0000:0000:8a2e:0370:7334 blocked", None),
 ("ipv6-with-code", "security@example.com", "Your verification code is 482193. Requested from 2a02:d3c2:dfc9:6fa1::ab4", "482193"),
 ("post-footer-us", "news@example.com", "Security tips: never share your code with anyone.\n\nExample Inc., 251 Little Falls Drive, Wilmington 19808", None),
 ("post-footer-de", "news@example.de", "Ihr Sicherheitshinweis: Teilen Sie Codes nie.\n\nExample GmbH, Hauptstraße 5, 10115 Berlin", None),
 ("post-footer-with-code", "no-reply@example.com", "Your sign-in code is 730192.\n\nExample Inc., 251 Little Falls Drive, Wilmington 19808", "730192"),
 ("post-footer-suite", "news@example.com", "Your code of conduct update.\n\nExample, 100 Pine St Suite 1200, San Francisco 94111", None),
]

SMS_FILES = {
 "classes_context.jsonl": CTX, "classes_origin.jsonl": OBC,
 "classes_missed.jsonl": K3 + DASH + LET + SPC + BRAND + NODIG + GRP + RULE,
 "classes_lang.jsonl": LANG,
 "classes_invented.jsonl": WB + SENT + NOUN + MASK + IPV6,
}

# ---- 5. e-mail ----
def b64(data: bytes, wrap=76) -> str:
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i+wrap] for i in range(0, len(s), wrap))

def qp(data: bytes) -> str:
    return quopri.encodestring(data).decode("ascii")

def part(text, ctype="text/plain", cte="quoted-printable", charset="utf-8"):
    data = text.encode(charset)
    enc = b64(data) if cte == "base64" else qp(data) if cte == "quoted-printable" else text
    return "Content-Type: %s; charset=%s\r\nContent-Transfer-Encoding: %s\r\n" % (ctype, charset, cte), enc

def ew(text):
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode()).decode()

def mail(cid, sender, subject, parts, subtype="alternative"):
    b = "b_" + cid.replace("-", "_")
    body = "".join("--%s\r\n%s\r\n%s\r\n" % (b, h, e) for h, e in parts) + "--%s--\r\n" % b
    return ("From: %s\r\nTo: me@example.net\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@classes.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/%s; boundary=\"%s\"\r\n\r\n%s") % (sender, ew(subject), DATE, cid, subtype, b, body)

def html(inner, pre=""):
    hidden = '<div style="display:none;max-height:0;overflow:hidden">%s&zwnj;&nbsp;&zwnj;&nbsp;</div>' % pre if pre else ""
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>td{font-family:Arial}</style></head><body>' + hidden +
            '<table width="100%" role="presentation"><tr><td align="center"><img src="https://cdn.example/logo.png" width="120" height="40" alt="Logo"></td></tr>' +
            inner + '<tr><td style="font-size:11px;color:#999">%s</td></tr></table></body></html>')

FOOT_EN = "Example Inc., 548 Market St #4021, San Francisco, CA 94104 &middot; +1 888 555 0142<br>&copy; 2026 Example Inc. <a href=\"https://example.com/u?id=58213947\">Unsubscribe</a>"
FOOT_DE = "Beispiel GmbH, Hauptstraße 12, 80331 München &middot; Tel. 089 123456<br>&copy; 2026 Beispiel GmbH. HRB 123456"
FOOT_FR = "Exemple SAS, 12 rue de la Paix, 75002 Paris &middot; SIRET 552 120 222 00013<br>&copy; 2026 Exemple"
FOOT_ES = "Ejemplo S.L., Calle Mayor 5, 28013 Madrid &middot; CIF B12345678<br>&copy; 2026 Ejemplo"
FOOT_JA = "株式会社サンプル 〒100-0001 東京都千代田区1-1-1 &middot; 03-1234-5678<br>&copy; 2026 Sample"
FOOT_PT = "Exemplo Ltda., Av. Paulista 1000, 01310-100 São Paulo &middot; CNPJ 12.345.678/0001-90<br>&copy; 2026 Exemplo"

def per_digit(code):
    return "<tr><td align=\"center\"><table><tr>" + "".join(
        '<td style="border:1px solid #ccc;padding:8px;font-size:28px">%s</td>' % c for c in code) + "</tr></table></td></tr>"

def big(code, before, after=""):
    return ('<tr><td align="center"><p>%s</p><p style="font-size:32px;letter-spacing:6px;font-weight:bold">%s</p><p>%s</p></td></tr>' % (before, code, after))

def build_emails():
    E = []
    def add(cid, sender, subject, text, htm, want, cte_t="quoted-printable", cte_h="quoted-printable", foot=FOOT_EN):
        parts = []
        if text is not None:
            parts.append(part(text, "text/plain", cte_t))
        if htm is not None:
            parts.append(part(htm.replace("%s", foot) if "%s" in htm else htm, "text/html", cte_h))
        E.append((cid, sender, mail(cid, sender, subject, parts), want))

    services = [
        ("en", "Example <no-reply@example.com>", "Your Example verification code", "Use this code to verify your email address:", "This code expires in 10 minutes. If you didn't request it, you can ignore this email.", FOOT_EN),
        ("de", "Beispiel <noreply@beispiel.de>", "Ihr Bestätigungscode", "Verwenden Sie diesen Code, um Ihre Anmeldung zu bestätigen:", "Der Code ist 15 Minuten gültig.", FOOT_DE),
        ("fr", "Exemple <ne-pas-repondre@exemple.fr>", "Votre code de vérification", "Voici votre code de vérification :", "Ce code expire dans 10 minutes.", FOOT_FR),
        ("es", "Ejemplo <no-reply@ejemplo.es>", "Tu código de verificación", "Introduce este código para iniciar sesión:", "El código caduca en 10 minutos.", FOOT_ES),
        ("pt", "Exemplo <nao-responda@exemplo.com.br>", "Seu código de verificação", "Use o código abaixo para entrar na sua conta:", "O código expira em 10 minutos.", FOOT_PT),
        ("ja", "Sample <no-reply@sample.co.jp>", "認証コードのお知らせ", "以下の認証コードを入力してください。", "このコードの有効期限は10分です。", FOOT_JA),
        ("it", "Esempio <noreply@esempio.it>", "Il tuo codice di verifica", "Ecco il tuo codice di verifica:", "Il codice scade tra 10 minuti.", FOOT_EN),
        ("nl", "Voorbeeld <noreply@voorbeeld.nl>", "Je verificatiecode", "Gebruik deze code om in te loggen:", "De code verloopt over 10 minuten.", FOOT_EN),
        ("pl", "Przyklad <noreply@przyklad.pl>", "Twój kod weryfikacyjny", "Oto Twój kod weryfikacyjny:", "Kod wygaśnie za 10 minut.", FOOT_EN),
        ("tr", "Ornek <noreply@ornek.com.tr>", "Doğrulama kodunuz", "Giriş yapmak için doğrulama kodunuz:", "Kod 10 dakika geçerlidir.", FOOT_EN),
        ("ru", "Пример <noreply@primer.ru>", "Код подтверждения", "Ваш код подтверждения для входа:", "Код действителен 10 минут.", FOOT_EN),
        ("ko", "예시 <noreply@example.co.kr>", "인증번호 안내", "아래 인증번호를 입력해 주세요.", "인증번호는 10분간 유효합니다.", FOOT_EN),
        ("zh", "示例 <noreply@example.cn>", "您的验证码", "您的登录验证码为：", "验证码10分钟内有效。", FOOT_EN),
        ("vi", "Vi du <noreply@vidu.vn>", "Mã xác thực của bạn", "Mã xác thực của bạn là:", "Mã có hiệu lực trong 10 phút.", FOOT_EN),
        ("id", "Contoh <noreply@contoh.co.id>", "Kode verifikasi Anda", "Gunakan kode verifikasi berikut untuk masuk:", "Kode berlaku selama 10 menit.", FOOT_EN),
        ("sv", "Exempel <noreply@exempel.se>", "Din verifieringskod", "Här är din verifieringskod:", "Koden är giltig i 10 minuter.", FOOT_EN),
        ("fi", "Esimerkki <noreply@esimerkki.fi>", "Vahvistuskoodisi", "Tässä on vahvistuskoodisi:", "Koodi on voimassa 10 minuuttia.", FOOT_EN),
        ("ar", "مثال <noreply@example.ae>", "رمز التحقق الخاص بك", "رمز التحقق الخاص بك هو:", "ينتهي الرمز خلال 10 دقائق.", FOOT_EN),
        ("hi", "Udaharan <noreply@example.in>", "आपका सत्यापन कोड", "आपका सत्यापन कोड है:", "यह कोड 10 मिनट के लिए मान्य है।", FOOT_EN),
        ("uk", "Приклад <noreply@pryklad.ua>", "Код підтвердження", "Ваш код підтвердження:", "Код дійсний 10 хвилин.", FOOT_EN),
    ]
    codes = ["482913", "730192", "551208", "904417", "661204", "318820", "772931", "409155", "238806", "913370",
             "684102", "127759", "553091", "840266", "390718", "716643", "205981", "468530", "871204", "649327"]
    for (lang, sender, subj, before, after, foot), code in zip(services, codes):
        # big code in HTML, short text alternative, footer full of numbers
        add("mail-big-%s" % lang, sender, subj, "%s\n\n%s\n\n%s" % (before, code, after),
            html(big(code, before, after), pre=subj), code, foot=foot)
        # one cell per digit, text part nearly empty, base64 HTML
        add("mail-cells-%s" % lang, sender, subj, "View this email in your browser: https://example.com/m/58213947",
            html('<tr><td align="center"><p>%s</p></td></tr>' % before + per_digit(code) + '<tr><td><p>%s</p></td></tr>' % after),
            code, cte_h="base64", foot=foot)
    alnum = [("mail-alnum-1", "Epic <help@accts.example.com>", "Your security code", "Your security code is:", "K7Q2MX"),
             ("mail-alnum-2", "Game <noreply@game.example>", "Steam Guard code", "Here is the Steam Guard code you need to login:", "F4RT9"),
             ("mail-alnum-3", "Auth <login@auth.example.com>", "Your login code", "Your login code is listed below. Please enter it in your open browser window.", "KCXF-SMQQ")]
    for cid, sender, subj, before, code in alnum:
        want = code.replace("-", "")
        add(cid, sender, subj, "%s\n\n%s\n" % (before, code), html(big(code, before)), want)
    # magic link only: the token in the URL is not a typed code
    add("mail-magic-only", "Example <no-reply@example.com>", "Sign in to Example",
        "Click the link below to sign in:\nhttps://example.com/magic?token=8fJ2kLq9Z4&uid=482913\nThe link expires in 15 minutes.",
        html('<tr><td align="center"><p>Click the button to sign in.</p><a href="https://example.com/magic?token=8fJ2kLq9Z4&amp;uid=482913" style="padding:12px;background:#1a73e8;color:#fff">Sign in</a><p>Or paste this link: https://example.com/magic/8fJ2kLq9Z4X7</p></td></tr>'), None)
    add("mail-magic-and-code", "Example <no-reply@example.com>", "Sign in to Example",
        "Sign in with this link: https://example.com/magic?token=7730192&u=4421\nor enter the code 551208 in the app.",
        html('<tr><td><a href="https://example.com/magic?token=7730192&amp;u=4421">Sign in</a><p>Or enter this code in the app:</p><h2>551208</h2></td></tr>'), "551208")
    # newsletters and notices with many numbers and no code
    add("mail-null-newsletter", "Example <news@example.com>", "Your weekly digest",
        "Top stories this week: 12 new features, 3 updates.\nOrder #48213 shipped.\nUse promo code SAVE20 for 20% off.",
        html('<tr><td><h2>This week</h2><p>12 new features in version 4.2.1</p><p>Your order 48213579 has shipped. Tracking: 1Z999AA10123456784</p><p>Use promo code SAVE20 &mdash; 20% off until 12/31/2026</p></td></tr>'), None)
    add("mail-null-security-ipv6", "Security <security@example.com>", "New sign-in to your account",
        "We noticed a new sign-in from 2a02:d3c2:dfc9:6fa1::ab4 on Chrome.\nIf this was you, no action is needed.",
        html('<tr><td><p>New sign-in from IP address 2a02:d3c2:dfc9:6fa1::ab4 (Frankfurt)</p><p>Time: 08:14 UTC, 1 Dec 2026</p><p>If this wasn\'t you, change your password now.</p></td></tr>'), None)
    add("mail-null-receipt", "Store <receipts@store.example>", "Your receipt",
        "Thanks for your purchase.\nTotal: $48.21\nReceipt 55812004\nCard ending 4421",
        html('<tr><td><p>Receipt no. 55812004</p><p>Total: $48.21</p><p>Visa ending 4421</p><p>Store #0231, 12 Main St, Springfield IL 62701</p></td></tr>'), None)
    add("mail-null-password-reset-link", "Example <no-reply@example.com>", "Reset your password",
        "Someone asked to reset your password. Use this link: https://example.com/reset/7730192abc\nIf it wasn't you, ignore this email.",
        html('<tr><td><p>Reset your password with the button below.</p><a href="https://example.com/reset/7730192abc">Reset password</a></td></tr>'), None)
    add("mail-null-code-review", "GitHub <notifications@github.example>", "[repo] PR #4821: code review requested",
        "You were asked to review pull request #4821.\n3 files changed, 120 additions.",
        html('<tr><td><p>Code review requested on PR #4821</p><p>3 files changed</p></td></tr>'), None)
    # subject carries the code, body nearly empty
    add("mail-subject-code", "Example <no-reply@example.com>", "482193 is your Example code", "", html('<tr><td><p>Thanks for using Example.</p></td></tr>'), "482193")
    add("mail-subject-letters", "Auth <login@auth.example.com>", "Your login code: HBQKZTWM", "", html('<tr><td><p>Enter the code from the subject line.</p></td></tr>'), "HBQKZTWM")
    # rule-delimited code under an IP notice, text only, base64
    add("mail-rule-ip", "Security <security@example.com>", "Your one-time code",
        "Hello,\n\nA one-time code was requested for your account from IP address 198.51.100.23.\n\nEnter this code to continue:\n\n----------\nXPXEY6TP\n----------\n\nIf you did not request it, change your password.",
        None, "XPXEY6TP", cte_t="base64")
    # preheader repeats the code; HTML only
    add("mail-preheader", "Example <no-reply@example.com>", "Verify your email", None,
        html(big("771453", "Your verification code:"), pre="Your code is 771453"), "771453")
    return E

def main():
    for name, cases in SMS_FILES.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            for c in cases:
                d = {"id": c[0], "source": "sms", "sender": c[1], "text": c[2], "want": c[3]}
                if len(c) > 4:
                    d["sender_pattern"] = c[4]
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, "classes_email.jsonl"), "w", encoding="utf-8") as f:
        for cid, sender, text, want in build_emails():
            f.write(json.dumps({"id": cid, "source": "email", "sender": sender, "text": text, "want": want}, ensure_ascii=False) + "\n")

if __name__ == "__main__":
    main()
