package extract

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// kwClass is a bit set of keyword classes.
type kwClass uint32

const (
	clsCode      kwClass = 1 << iota // code nouns: code, OTP, PIN, 验证码 ...
	clsVerify                        // verification / sign-in words
	clsConfirm                       // confirm / confirmation (weak when a booking is mentioned)
	clsAction                        // enter / use / type ...
	clsPromo                         // promo, coupon, discount ...
	clsOrder                         // order, invoice, tracking, ticket, reference ...
	clsPhone                         // call, phone, tel ...
	clsMoney                         // currency codes and amount words
	clsMoneyCtx                      // balance, debited, amount ... (only when adjacent)
	clsCard                          // card, account, ending ...
	clsPostal                        // zip, postcode ...
	clsStreet                        // street, road, Straße ...
	clsBooking                       // booking, reservation, flight ...
	clsMonth                         // month names
	clsCopyright                     // copyright, all rights reserved
	clsUnit                          // points, minutes, km ...
	clsIDMark                        // id, no., number, nr ...
	clsCopula                        // is, lautet, est, 是, は ... ("<keyword> ... is <code>")
	clsFiller                        // your, the, for, of ... (skipped when scanning context)
	clsNeutral                       // consumes a word ("barcode", "unicode") without meaning
)

const (
	clsPositive = clsCode | clsVerify | clsConfirm | clsAction
	clsFill     = clsFiller | clsCopula
)

// kwWord is one word of a keyword phrase, folded.
type kwWord struct {
	s    string
	mode uint8
}

const (
	mExact uint8 = iota
	mPrefix
	mSuffix
)

// kwEntry is a keyword or phrase.
type kwEntry struct {
	name   string // as written in the table (for reasons)
	words  []kwWord
	cls    kwClass
	weight float32
	cjk    bool  // Han/Kana pattern, matched inside runs of CJK characters
	script uint8 // script of the first word
	plen   int   // total folded pattern length (tie-break: longer wins)
}

type kwGroup struct {
	cls    kwClass
	weight float32
	list   string // '|' separated; ' ' separates words; '*' marks prefix/suffix
}

// The keyword tables. They are folded at init with the same function as the
// text (lower case, no diacritics, NFKD compatibility forms, Unicode digits
// to ASCII). "word*" matches words starting with "word" (inflections);
// "*word" matches words ending with "word" (compounds such as German
// "Anmeldecode"). Korean keywords match anywhere inside a word (particles
// attach to nouns); Hebrew and Arabic ones also after one-letter proclitics.
var kwGroups = []kwGroup{
	// ---- positive: code nouns ----
	{clsCode, 1, "code|codes|*code|*codes|otp|otps|passcode|passcodes|pass code|pin|pin code|one-time password|one time password|onetime password|one-time passcode|one-time code|one time code|2fa|mfa|totp|authcode|security code|verification code|login code|sign-in code|access code|auth code"},
	{clsCode, 0.8, "password|passwords|token|*passwort|passwort|kennwort|einmalkennwort|mot de passe|mdp|contraseña|contrasena|clave|senha|wachtwoord|lösenord|losenord|mật khẩu|kata sandi|sandi|пароль*|парол*|συνθηματικ*|סיסמה|סיסמא|كلمة المرور|كلمة السر|पासवर्ड|パスワード|비밀번호|密码|密碼"},
	{clsCode, 1, "tan|mtan|smstan|pushtan|chiptan|sms-tan|código|codigo|codice|kod|koden|*kod|*koden|kod*|kodu*|kodunuz*|şifre*|sifre*|parola*|код*|κωδικ*|קוד|رمز|كود|कोड|ओटीपी|पिन|kode|mã xác thực|mã xác nhận|mã otp|mã kích hoạt|mã bảo mật|mã đăng nhập|mã pin|mã số bí mật|mã giao dịch|hasło*|haslo*|hasła*"},
	{clsCode, 1, "验证码|驗證碼|校验码|校驗碼|确认码|確認碼|动态码|動態碼|动态密码|動態密碼|认证码|認證碼|安全码|安全碼|登录码|登錄碼|激活码|激活碼|口令|验证代码|短信码|認証コード|確認コード|認証番号|暗証番号|ワンタイムパスワード|パスコード|セキュリティコード|ログインコード|コード|認証キー|検証コード|ワンタイムコード|인증번호|인증코드|확인코드|코드|보안코드|인증키"},
	{clsCode, 0.8, "確認番号|承認番号"},
	// more languages: Finnish, Catalan, Afrikaans, Nordic, Baltic, Central and Eastern European, Balkan,
	// Caucasus, Central Asian, African, South and South-East Asian scripts
	{clsCode, 1, "koodi|koodisi|koodin|*koodi|*koodisi|*koodin|tunnusluku|codi|codis|*kode|*koden|kodea|*kodea|kodas|kodą|kods|koda|kodo|kood|*kood|koodu|ikhodi|kóði|kóðinn|*kóði|*kóðinn|msimbo|cod|codul|coduri|tac|2factor|парола|лозинка|шифра|*код|кодуңуз|кодунуз|კოდი|კოდ*|კოდია|կոդ*|ኮድ*|কোড|পাসকোড|ওটিপি|পিন|কোডটি|*কোড|કોડ|ઓટીપી|ਕੋਡ|ਓਟੀਪੀ|కోడ్|ఓటీపీ|குறியீடு|குறியீட்டு|ஓடிபி|ಕೋಡ್|ಒಟಿಪಿ|കോഡ്|ഒടിപി|କୋଡ୍|ඕටීපී|කේතය|کد|کدتان|کوڈ|کوډ|رمز یکبار مصرف|סיסמת|סיסמתך|קודך|รหัส|ລະຫັດ|កូដ|លេខកូដ|ကုဒ်"},
	{clsCode, 0.8, "salasana|salasanasi|contrasenya|wagwoord|passord|adgangskode|parool|pasahitza|modpas|lozinka|lozinke|heslo|jelszó|jelszo|jelszavad|slaptažodis|parole|geslo|fjalëkalim*|nenosiri|kata laluan|kalmar sirri|нууц үг|сырсөз|құпиясөз|пароль|парола|лозинку|пассворд|პაროლი|գաղտնաբառ|пароли|رمز عبور|पासवर्ड|পাসওয়ার্ড|รหัสผ่าน"},
	{clsVerify, 0.85, "vahvistus*|tunnistautu*|kirjautu*|kertakäyttö*|verificació|verificacio|d'un sol ús|sol ús|verifikasie|eenmalig*|podtverzhd*|vhod|vhoda|avtorizac*|bekræft*|engangs*|kinnitus*|ühekord*|egiaztapen*|egiaztatze*|behin erabiltzeko|verifikasyon|konfimasyon|pou yon sèl fwa|verifikacion*|jednokratn*|jednorázov*|overovac*|ověřovac*|ověření|overenie|megerősít*|megerosit*|ellenőrző|egyszer használatos|patvirtinimo|apstiprinājuma|enkratn*|verifikim*|staðfesting*|pengesahan|uthibitisho|tabbatarwa*|ijerisi|*qinisekisa|tasdiqlash|bir martalik|ырастоо|растау|баталгаажуул*|нэг удаагийн|верификациони|једнократн*|потвърждение|підтвердж*|одноразов*|вхід|входу|ვერიფიკაციის|ერთჯერადი|հաստատման|təsdiq|ማረጋገጫ|*ማረጋገጫ|যাচাই*|যাচাইকরণ|ચકાસણી|ਪੁਸ਼ਟੀ|ధృవీకరణ|சரிபார்ப்பு|ಪರಿಶೀಲನಾ|സ്ഥിരീകരണ|पडताळणी|प्रमाणीकरण|تایید|تأیید|ورود|یکبار مصرف|تصدیقی|تصدیق|یکبار|ยืนยัน|ຢືນຢັນ|ផ្ទៀងផ្ទាត់|အတည်ပြု|verificare"},
	// ---- positive: verification / sign-in ----
	{clsVerify, 0.85, "verification|verify|verifying|authentication|authenticate|auth|login|log in|logging in|log-in|sign in|signing in|sign-in|signin|sign on|logon|two-factor|two factor|2-step|two-step|one-time|one time|onetime|multi-factor"},
	{clsVerify, 0.75, "activation|activate|validation|validate|identity|passwordless|authorize|authorise|authorization|authorisation|authorizing|authorising|approve|approval|approving|autorisieren|autorisierung|autoriser|autorisation|autorizar|autorização|autorizzare|autorizzazione|autoriseren|godkänn*|autoryzuj*|yetkilendir*|авториз*|εξουσιοδοτ*"},
	{clsConfirm, 1, "confirmation code|confirmation codes"},
	{clsConfirm, 0.7, "confirmation|confirm|confirming|bestätigung*|bestätige*|confirmer|confirmez|confirmación|confirmar|confirmação|confirme|conferma*|confermare|bevestig*|bekräfta*|bekräftelse*|potwierdz*|potwierdź*|onay*|подтвержд*|подтверд*|επιβεβαιωσ*|אישור|تأكيد|पुष्टि|konfirmasi|xác nhận|确认|確認|확인"},
	{clsVerify, 0.85, "verifizierung|verifizieren|anmeldung|anmelden|anmelde*|einloggen|authentifizierung|zwei-faktor|einmal*|aktivierung|freigabe"},
	{clsVerify, 0.85, "vérification|vérifier|vérifiez|connexion|connecter|authentification|usage unique|identification"},
	{clsVerify, 0.85, "verificación|verificacion|verificar|iniciar sesión|inicio de sesión|autenticación|activación|validación|un solo uso|verificação|autenticação|ativação|validação|uso único"},
	{clsVerify, 0.85, "verifica|verificare|autenticazione|attivazione|convalida|monouso|verificatie|verifiëren|inloggen|aanmelden|authenticatie|activatie|eenmalig*"},
	{clsVerify, 0.85, "verifiering|verifiera|inloggning|logga in|engångs*|aktivering|weryfikac*|weryfikacyjn*|logowani*|zaloguj*|autoryzac*|uwierzytelni*|jednorazow*|aktywac*"},
	{clsVerify, 0.85, "doğrulama|doğrula*|giriş|tek kullanımlık|aktivasyon|верификац*|авторизац*|проверочн*|одноразов*|активац*|аутентификац*|вход|входа|входе|входу|επαληθευσ*|συνδεσ*|ταυτοποιησ*|אימות|כניסה|התחברות|חד פעמי|تحقق|التحقق|تفعيل|الدخول|توثيق|لمرة واحدة|सत्यापन|वेरिफिकेशन|लॉगिन|प्रमाणीकरण|सक्रियण"},
	{clsVerify, 0.85, "verifikasi|otentikasi|autentikasi|aktivasi|xác thực|đăng nhập|kích hoạt"},
	{clsVerify, 0.85, "验证|驗證|登录|登錄|登陆|認證|认证|激活|校验|校驗|認証|ログイン|ワンタイム|인증|로그인|본인확인"},
	{clsVerify, 0.45, "sicherheit*|sécurité|seguridad|segurança|sicurezza|beveiliging*|säkerhet*|bezpieczeństw*|güvenlik|безопасност*|ασφαλει*|keamanan|bảo mật|masuk|accès|acceso|acesso|accesso|安全"},
	// ---- positive: actions ----
	{clsAction, 0.55, "enter|use|type|input|paste|eingeben|geben|gib|verwende*|nutze*|benutze*|saisi*|entrez|entrer|utilise*|utilisez|tapez|ingresa|ingrese|ingresar|introduce|introduzca|utiliza|digite|digita|insira|informe|utilize|usar|inserisci|inserire|immetti|utilizza|voer|gebruik|invoeren|vul|ange|använd|skriv|wpisz|wprowadź|użyj|podaj|gir|girin|giriniz|girerek|kullan*|введите|ввести|используйте|укажите|πληκτρολογησ*|εισαγετε|εισαγαγετε|χρησιμοποιησ*|הזן|הזינו|הקלד|הקלידו|השתמש|أدخل|ادخل|استخدم|दर्ज|डालें|masukkan|gunakan|ketik|nhập|sử dụng|输入|輸入|填写|填寫|入力|입력"},

	// ---- negative contexts ----
	{clsPromo, 1, "promo|promos|promo code|promotional code|promotion|promotional|coupon|coupons|coupon code|discount|discounts|discount code|voucher|vouchers|voucher code|sale|offer|offers|offer code|deal|deals|gift|gift code|giftcard|gift card|referral|referral code|refer|invite code|invitation code|redeem|redeem code|redemption code|reward|rewards|cashback|checkout|off|promocode|couponcode|giftcode|vouchercode"},
	{clsPromo, 1, "gutschein*|rabatt*|aktionscode|angebot*|code promo|code de réduction|réduction*|remise|soldes|offre*|descuento*|cupón|cupon*|promoción*|promocion*|oferta*|rebaja*|código promocional|código de descuento|código de desconto|desconto*|cupom|cupons|promoção|promocional|sconto|sconti|promozion*|offert*|codice sconto|codice promozionale|korting*|actiecode|aanbieding*|kampanj*|erbjudande*|rabattkod|rabat*|promocj*|promocyjn*|kod rabatowy|kod promocyjny|zniżk*|kupon*|indirim*|promosyon*|kampanya*|hediye*"},
	{clsPromo, 1, "промокод*|скидк*|акци*|купон*|подар*|код скидки|εκπτωσ*|προσφορ*|κουπον*|κωδικος εκπτωσης|הנחה|קופון|מבצע|קוד קופון|קוד הנחה|خصم|كوبون|قسيمة|ترويجي|كود خصم|छूट|कूपन|ऑफर|प्रोमो|कूपन कोड|प्रोमो कोड|diskon|potongan|kode promo|kode voucher|kode diskon|giảm giá|khuyến mãi|ưu đãi|mã giảm giá|mã khuyến mãi"},
	{clsPromo, 1, "优惠|優惠|折扣|促销|促銷|优惠券|優惠券|优惠码|優惠碼|折扣码|兑换码|兌換碼|礼品卡|礼品码|红包|紅包|满减|クーポン|割引|セール|プロモーション|キャンペーン|クーポンコード|割引コード|プロモーションコード|할인|쿠폰|프로모션|이벤트|할인코드|쿠폰코드|프로모션코드"},
	{clsOrder, 1, "order|orders|order number|order code|invoice|invoices|receipt|receipts|tracking|track|trackingnumber|shipment|shipments|parcel|parcels|package|packages|consignment|awb|waybill|docket|ticket|tickets|case|claim|ref|refs|reference|references|txn id|transaction id|transaction number|trans id|utr|rrn|serial|model|sku|item|product|product code|item code|tracking code|reference code|policy|loan|application|request id|member|membership|customer|client|vat|registration|registered|company|reg|siret|cnpj|cpf|kvk|version|build|patient|student|employee|invoice number"},
	{clsOrder, 1, "bestellung*|bestellnummer|auftrag*|rechnung*|sendung*|sendungsnummer|paket*|lieferung|kundennummer|kunden*|vertrag*|vorgang*|aktenzeichen|commande*|facture*|colis|suivi|envoi|référence*|dossier|pedido*|factura*|envío*|paquete*|seguimiento|referencia|cliente|expediente|fatura*|encomenda*|rastreamento|rastreio|referência|protocolo|ordine*|fattura*|spedizione*|pacco*|tracciamento|riferimento|pratica|bestelling*|bestelnummer|factuur*|pakket*|zending*|referentie|klant*|ordernummer|beställning*|faktura*|försändelse*|kundnummer|referens"},
	{clsOrder, 1, "paketti*|pakettisi|tilaus*|lähetys*|comanda|comandă|comanda ta|objednávk*|rendelés*|purchase|sipariş*|zamówieni*|faktur*|przesyłk*|paczk*|klient*|sipariş*|kargo*|gönderi*|takip|müşteri*|заказ*|посылк*|отправлени*|трек*|накладн*|клиент*|договор*|παραγγελ*|τιμολογ*|δεμα*|συναλλαγ*|הזמנה|חשבונית|משלוח|חבילה|לקוח|طلب|الطلب|فاتورة|شحنة|طرد|تتبع|ऑर्डर|चालान|शिपमेंट|पार्सल|ट्रैकिंग|pesanan|faktur|pengiriman|resi|đơn hàng|hóa đơn|vận đơn|kiện hàng"},
	{clsOrder, 1, "订单|訂單|发票|發票|快递|快遞|运单|運單|单号|單號|物流|包裹|注文|請求書|配送|お届け|伝票|荷物|追跡|주문|송장|배송|운송장|택배"},
	{clsPhone, 1, "call|calls|calling|phone|telephone|tel|mobile|mob|cell|cellphone|fax|hotline|helpline|customer care|customer service|contact|contact us|dial|ring|whatsapp us|toll-free|toll free|short code|shortcode|area code|country code|dialing code|anruf*|anrufen|telefon*|handy*|mobil*|rufen|appel*|appelez|téléphone|portable|llam*|teléfono|móvil|celular|ligue|ligar|telefone|chiam*|cellulare|bel|bellen|telefoon*|mobiel*|ringa|zadzwoń|dzwoń|komórk*|infolini*|arayın|arayınız|cep|звоните|позвоните|звонок|телефон*|тел|τηλεφων*|τηλ|καλεστε|טלפון|התקשרו|התקשר|חייגו|اتصل|اتصال|هاتف|الهاتف|جوال|कॉल|फोन|फ़ोन|संपर्क|hubungi|telepon|telp|call center|gọi|điện thoại|tổng đài|电话|電話|致电|致電|拨打|撥打|热线|熱線|客服|手机号|手機|お問い合わせ|携帯|전화|고객센터|문의|휴대폰"},
	{clsMoney, 1, "ksh|kes|ugx|tzs|ghs|etb|pkr|bdt|lkr|npr|uzs|kzt|gel|amd|azn|mnt|kgs|uah|usd|eur|gbp|inr|rs|rupees|rupee|rub|руб|р|рублей|рубля|рубль|jpy|cny|rmb|krw|tl|vnd|idr|rp|php|pln|zł|zl|sek|nok|dkk|kr|chf|brl|mxn|aed|sar|ils|nis|egp|dollars|dollar|euro|euros|pounds|yuan|yen|won|lira|dong|đồng|rupiah|ringgit|myr|sgd|hkd|aud|cad|nzd|zar|ngn|kes|thb|baht|pesos|peso|reais|złotych|huf|czk|kč|ron|lei|usdt|btc|eth|ریال|ريال|درهم|جنيه|ש״ח|שח|元|円|원|块|圓"},
	{clsMoneyCtx, 1, "amount|amt|balance|bal|avl|available|debited|credited|debit|credit|paid|pay|spent|total|subtotal|price|cost|fee|fees|charge|charged|withdrawn|withdrawal|deposit|deposited|refund|refunded|betrag|saldo|gesamt|montant|solde|importe|valor|importo|bedrag|belopp|kwota|tutar|bakiye|сумма|суммы|сумму|баланс|оплата|покупка|списание|ποσο|υπολοιπο|סכום|יתרה|مبلغ|المبلغ|رصيد|राशि|शेष|jumlah|nominal|số tiền|số dư|金额|金額|余额|餘額|残高|금액|잔액"},
	{clsCard, 1, "card|cards|ending|ending in|ends in|ends with|last 4|last four|acct|account|accounts|iban|bic|swift|ifsc|sort code|swift code|bic code|ifsc code|bank code|branch code|routing|routing number|konto|kontonummer|karte*|kreditkarte*|carte|compte|tarjeta|cuenta|cartão|conta|carta|conto|kaart*|rekening*|kort|kortet|karta|karty|rachun*|kart|kartı|kartınız|hesap*|карт*|счет*|счёт*|καρτα|λογαριασμ*|כרטיס|חשבון|بطاقة|حساب|कार्ड|खाता|kartu|tài khoản|số thẻ|卡|尾号|尾號|账户|賬戶|帐户|カード|口座|末尾|카드|계좌"},
	{clsPostal, 1, "zip|zipcode|zip code|postcode|post code|postal|postal code|plz|postleitzahl|code postal|código postal|cep|codice postale|postnummer|kod pocztowy|posta kodu|почтовый индекс|индекс|ταχυδρομικος κωδικας|τκ|מיקוד|الرمز البريدي|पिन कोड|kode pos|mã bưu chính|mã bưu điện|邮编|郵編|邮政编码|郵遞區號|郵便番号|우편번호"},
	{clsStreet, 1, "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|parkway|pkwy|highway|hwy|suite|ste|floor|fl|unit|apt|apartment|building|bldg|square|sq|terrace|box|po box|p o box|postfach|strasse|straße|str|*strasse|*straße|*str|*weg|platz|*platz|allee|*allee|gasse|*gasse|rue|bd|chemin|calle|avenida|plaza|paseo|carrera|rua|travessa|praça|via|viale|piazza|corso|straat|*straat|laan|*laan|plein|*plein|gracht|*gatan|*vägen|gata|ul|ulica|aleja|cadde*|sokak|sok|mahalle*|mah|улица|ул|проспект|οδος|λεωφ*|רחוב|شارع|मार्ग|jalan|jl|đường|phố|丁目|番地"},
	{clsBooking, 1, "room|gate|seat|platform|terminal|rental|rentals|car hire|trip|check-in|checkin|booking|bookings|reservation|reservations|pnr|itinerary|flight|confirmation number|booking reference|booking code|reservation code|record locator|hotel|buchung*|buchungsnummer|reservierung*|flug|réservation|vol|reserva*|vuelo|voo|prenotazion*|volo|boeking*|reservering*|vlucht|bokning*|flyg|rezerwacj*|rezervasyon*|uçuş|бронирован*|бронь|рейс|κρατησ*|πτησ*|טיסה|حجز|رحلة|बुकिंग|pemesanan|đặt chỗ|chuyến bay|预订|預訂|航班|予約|便名|예약|항공"},
	{clsMonth, 1, "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|märz|mai|juni|juli|oktober|dezember|mrz|okt|dez|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|januari|februari|maart|mei|augustus|augusti|maj|ocak|şubat|mart|nisan|mayıs|haziran|temmuz|ağustos|eylül|ekim|kasım|aralık|январ*|феврал*|марта|апрел*|мая|июн*|июл*|август*|сентябр*|октябр*|ноябр*|декабр*|stycz*|lut*|kwie*|czerw*|lip*|sierp*|wrze*|paźdz*|listopad*|grud*|년|월|일|年|月|日"},
	{clsCopyright, 1, "copyright|all rights reserved|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados|todos os direitos reservados|tutti i diritti riservati|alle rechten voorbehouden|版权所有|版權所有|無断転載"},
	{clsUnit, 1, "points|point|pts|miles|mile|km|kms|kg|kgs|lbs|lb|mb|gb|kb|tb|mbps|gbps|items|pcs|pieces|people|persons|users|members|followers|likes|views|steps|calories|kcal|days|day|hours|hour|hrs|hr|h|minutes|minute|mins|min|seconds|second|secs|sec|s|years|year|yrs|months|month|weeks|week|times|am|pm|uhr|ml|mg|mm|cm|m|messages|units|credits|coins|rewards|punkte|tage|stunden|minuten|sekunden|jahre|stück|jours|heures|secondes|ans|puntos|días|horas|minutos|segundos|años|pontos|dias|punti|giorni|ore|minuti|punten|dagen|uren|poäng|dagar|timmar|minuter|punktów|dni|godzin|minut|puan|gün|saat|dakika|баллов|бонусов|дней|часов|минут|мин|ποντοι|ημερες|λεπτα|נקודות|ימים|דקות|نقطة|نقاط|يوم|دقيقة|دقائق|अंक|दिन|मिनट|poin|hari|jam|menit|điểm|ngày|phút|分钟|分鐘|积分|積分|小时|小時|ポイント|時間|포인트|분|시간"},
	{clsIDMark, 1, "id|no|nr|number|num|numero|número|nummer|numer|numara*|номер|№|αριθμ*|מספר|رقم|संख्या|nomor|số|号|番号|번호"},
	{clsCopula, 1, "is|was|are|will be|ist|lautet|lauten|sind|war|est|es|son|era|è|é|är|jest|to|это|будет|ειναι|είναι|הוא|היא|هو|هي|है|हैं|adalah|ialah|yaitu|là|on|er|je|este|ay|ni|se|da|është|ist|је|е|є|eru|هست|است|ہے|हो|आहे|છે|ਹੈ|ነው|ita ce|ithi|គឺ|ແມ່ນ|คือ|မှာ|是|为|為|は|입니다"},
	{clsFiller, 1, "the|a|an|this|my|our|new|your|ihr|ihre|dein|deine|votre|ton|ta|su|tu|seu|sua|il|tuo|tua|la|le|uw|je|din|ditt|twój|twoj|ваш|ваша|ο|η|το|σας|anda|kamu|của bạn|bạn|您的|你的|您|你|的|新的|for|für|pour|para|per|voor|för|dla|için|для|για|עבור|untuk|cho|of|von|de|di|van|av|do|da|del|des|du|der|die|das|den|dem|e|です|는|은|이"},
	{clsNeutral, 1, "qr code|qr-code|qrcode|bar code|barcode|source code|error code|status code|reason code|color code|colour code|dress code|unicode|decode|decoded|encode|encoded|geocode|opcode|transcode|shortcode|code of conduct|code of practice|code review|purchase code|purchase codes|order confirmation code|order code|ticket code|ticket codes|booking code|gift card code|código de compra|codigo de compra|morse code|zip file|pincode|pin-code|encoding|código de barras|codigo de barras|código de barra|code-barres|code barre|strichcode"},
}

var (
	kwExact  map[string][]*kwEntry // first word matched exactly, by that word
	kwPrefix map[rune][]*kwEntry   // first word is a stem, by its first rune
	kwSuffix map[rune][]*kwEntry   // single-word compound suffixes, by their last rune
	kwLoose  map[rune][]*kwEntry   // Korean / Hebrew / Arabic: matched inside words, by first rune
	kwCJK    map[rune][]*kwEntry   // Han / Kana: matched inside runs, by first rune
)

func init() {
	kwExact = make(map[string][]*kwEntry)
	kwPrefix = make(map[rune][]*kwEntry)
	kwSuffix = make(map[rune][]*kwEntry)
	kwLoose = make(map[rune][]*kwEntry)
	kwCJK = make(map[rune][]*kwEntry)
	seen := make(map[string]*kwEntry)
	for _, g := range kwGroups {
		for _, item := range strings.Split(g.list, "|") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			e := &kwEntry{name: item, cls: g.cls, weight: g.weight}
			for _, w := range strings.Fields(item) {
				mode := mExact
				if strings.HasSuffix(w, "*") && len(w) > 1 {
					mode = mPrefix
					w = strings.TrimSuffix(w, "*")
				} else if strings.HasPrefix(w, "*") && len(w) > 1 {
					mode = mSuffix
					w = strings.TrimPrefix(w, "*")
				}
				// Hyphenated words are matched as separate tokens.
				for j, part := range strings.FieldsFunc(w, func(r rune) bool { return r == '-' || r == '/' || r == '.' }) {
					f := foldString(part)
					m := mode
					if j > 0 && mode == mSuffix {
						m = mExact
					}
					e.words = append(e.words, kwWord{s: f, mode: m})
					e.plen += len(f)
				}
			}
			if len(e.words) == 0 {
				continue
			}
			first, _ := utf8.DecodeRuneInString(e.words[0].s)
			e.cjk = isCJK(first)
			e.script = scriptOf(first)
			key := ""
			for _, w := range e.words {
				key += w.s + string(rune('0'+w.mode)) + " "
			}
			if prev, ok := seen[key]; ok {
				// The same pattern in several groups: merge classes, keep
				// the strongest positive weight.
				prev.cls |= e.cls
				if e.weight > prev.weight && e.cls&clsPositive != 0 {
					prev.weight = e.weight
				}
				continue
			}
			seen[key] = e
			switch {
			case e.cjk:
				kwCJK[first] = append(kwCJK[first], e)
			case e.script == scHangul || e.script == scSemitic || e.script == scLoose:
				kwLoose[first] = append(kwLoose[first], e)
			case e.words[0].mode == mSuffix:
				if len(e.words) == 1 {
					last, _ := utf8.DecodeLastRuneInString(e.words[0].s)
					kwSuffix[last] = append(kwSuffix[last], e)
				}
			case e.words[0].mode == mPrefix:
				kwPrefix[first] = append(kwPrefix[first], e)
			default:
				kwExact[e.words[0].s] = append(kwExact[e.words[0].s], e)
			}
		}
	}
}

// kwOcc is one keyword occurrence in a document.
type kwOcc struct {
	e      *kwEntry
	ti, tj int32 // first and last token
	cls    kwClass
	weight float32
}

func matchWord(w []byte, p kwWord, loose bool) bool {
	switch {
	case p.mode == mPrefix || loose:
		return bytes.HasPrefix(w, []byte(p.s))
	case p.mode == mSuffix:
		return bytes.HasSuffix(w, []byte(p.s))
	}
	return string(w) == p.s
}

// nextWordTok returns the next word-like token after i on the same line,
// skipping joiners (hyphen, apostrophe, slash, dot), or -1.
func (d *doc) nextWordTok(i int) int {
	for j := i + 1; j < len(d.toks) && j <= i+4; j++ {
		t := &d.toks[j]
		switch t.kind {
		case tkWord, tkAlnum, tkNum:
			return j
		case tkPunct:
			switch d.punct(j) {
			case '-', '\'', '’', '/', '.', '‐', '–':
				continue
			}
			return -1
		default:
			return -1
		}
	}
	return -1
}

// matchEntryAt checks whether e matches starting at token i with the first
// word starting at byte offset off inside the token.
func (d *doc) matchEntryAt(e *kwEntry, i, off int, loose bool) (int, bool) {
	w := d.fword(i)[off:]
	if !matchWord(w, e.words[0], loose) {
		return 0, false
	}
	if len(e.words) > 1 && e.words[0].mode == mExact && !loose && len(w) != len(e.words[0].s) {
		return 0, false
	}
	last := i
	for k := 1; k < len(e.words); k++ {
		j := d.nextWordTok(last)
		if j < 0 || !matchWord(d.fword(j), e.words[k], loose && k == len(e.words)-1) {
			return 0, false
		}
		last = j
	}
	return last, true
}

func better(e *kwEntry, end int, best *kwEntry, bestEnd int) bool {
	if best == nil {
		return true
	}
	if end != bestEnd {
		return end > bestEnd
	}
	if len(e.words) != len(best.words) {
		return len(e.words) > len(best.words)
	}
	return e.plen > best.plen
}

// kwCand is an entry whose first word matches a word: suffix entries match
// the word alone, the others are checked further with matchEntryAt.
type kwCand struct {
	e      *kwEntry
	suffix bool
}

// appendWordEntries appends the entries that may start at a word w of a
// script matched on word boundaries, in the order findKeywords considers
// them: exact first words, stems, then compound suffixes.
func appendWordEntries(dst []kwCand, w []byte) []kwCand {
	for _, e := range kwExact[string(w)] {
		if len(e.words) > 1 && len(w) != len(e.words[0].s) {
			continue
		}
		dst = append(dst, kwCand{e: e})
	}
	r0, _ := utf8.DecodeRune(w)
	for _, e := range kwPrefix[r0] {
		if matchWord(w, e.words[0], false) {
			dst = append(dst, kwCand{e: e})
		}
	}
	rl, _ := utf8.DecodeLastRune(w)
	for _, e := range kwSuffix[rl] {
		if len(w) > len(e.words[0].s) && bytes.HasSuffix(w, []byte(e.words[0].s)) && compoundHead(w[:len(w)-len(e.words[0].s)]) {
			dst = append(dst, kwCand{e: e, suffix: true})
		}
	}
	return dst
}

// Bounds of the per-document word memo: used from memoMinTokens tokens
// on (a short message repeats few words), for at most memoMaxWords
// distinct words of at most memoMaxWordLen bytes.
const (
	memoMinTokens  = 256
	memoMaxWords   = 4096
	memoMaxWordLen = 64
)

// wordMemo remembers appendWordEntries per distinct word of one document.
type wordMemo struct {
	idx map[string][2]int32 // word -> span of buf
	buf []kwCand
	tmp []kwCand
}

func newWordMemo() *wordMemo {
	return &wordMemo{idx: make(map[string][2]int32, 64)}
}

func (m *wordMemo) entries(w []byte) []kwCand {
	if sp, ok := m.idx[string(w)]; ok {
		return m.buf[sp[0]:sp[1]:sp[1]]
	}
	if len(m.idx) >= memoMaxWords || len(w) > memoMaxWordLen {
		m.tmp = appendWordEntries(m.tmp[:0], w)
		return m.tmp
	}
	start := len(m.buf)
	m.buf = appendWordEntries(m.buf, w)
	m.idx[string(w)] = [2]int32{int32(start), int32(len(m.buf))}
	return m.buf[start:len(m.buf):len(m.buf)]
}

// findKeywords scans the document once and returns the keyword
// occurrences, leftmost-longest, plus a class mask per token.
func (d *doc) findKeywords() ([]kwOcc, []kwClass) {
	return d.findKeywordsMemo(len(d.toks) >= memoMinTokens)
}

// findKeywordsMemo is findKeywords, with the word memo or without it (the
// result is the same; tests compare the two).
func (d *doc) findKeywordsMemo(useMemo bool) ([]kwOcc, []kwClass) {
	// A long text holds a keyword every few tokens (fillers, units, …):
	// its occurrences are allocated once rather than grown.
	nocc := 8
	if len(d.toks) >= memoMinTokens {
		nocc = len(d.toks)/3 + 8
	}
	occs := make([]kwOcc, 0, nocc)
	mask := make([]kwClass, len(d.toks))
	runEnd := -1 // folded end of the current CJK run
	runLast := -1
	var memo *wordMemo
	if useMemo {
		memo = newWordMemo()
	}
	var scratchArr [8]kwCand
	scratch := scratchArr[:0]
	for i := 0; i < len(d.toks); i++ {
		t := &d.toks[i]
		var best *kwEntry
		bestEnd := -1
		switch t.kind {
		case tkWord, tkAlnum:
			w := d.fword(i)
			loose := t.script == scHangul || t.script == scSemitic || t.script == scLoose
			// Multi-word phrases win when longest; single-word matches of
			// the same token (exact, stem, compound suffix) are merged, so
			// "Bestätigungscode" is a code noun and "postcode" a code noun
			// inside a postal word (demoted later).
			var single kwOcc
			consider := func(e *kwEntry, end int) {
				if end > i || len(e.words) > 1 {
					if better(e, end, best, bestEnd) {
						best, bestEnd = e, end
					}
					return
				}
				if single.e == nil || e.plen > single.e.plen {
					single.e = e
				}
				single.cls |= e.cls
				if e.cls&clsPositive != 0 && e.weight > single.weight {
					single.weight = e.weight
				}
			}
			if !loose {
				// The entries whose first word matches w depend on w
				// alone; a long text repeats its words, so they are
				// looked up once per distinct word (see wordEntries).
				var cands []kwCand
				if memo != nil {
					cands = memo.entries(w)
				} else {
					cands = appendWordEntries(scratch[:0], w)
					scratch = cands
				}
				for _, c := range cands {
					if c.suffix {
						consider(c.e, i)
					} else if end, ok := d.matchEntryAt(c.e, i, 0, false); ok {
						consider(c.e, end)
					}
				}
			} else {
				// Keywords inside the word: after proclitics (Hebrew,
				// Arabic: up to 3 letters) or anywhere (Korean), with
				// suffixes (particles, pronouns) attached.
				maxOff := len(w)
				if t.script == scSemitic {
					// Only after one-letter proclitics ("ו", "ה", "ב", "ل",
					// "ال" ...): "בנקודת" does not hold "קוד".
					maxOff = 0
					for k, n := 0, 0; k < len(w) && n < 3; n++ {
						r, sz := utf8.DecodeRune(w[k:])
						if !isProclitic(r) {
							break
						}
						k += sz
						maxOff = k
					}
				}
				for off := 0; off < len(w) && off <= maxOff; {
					r, sz := utf8.DecodeRune(w[off:])
					for _, e := range kwLoose[r] {
						if e.script != t.script {
							continue
						}
						if end, ok := d.matchEntryAt(e, i, off, true); ok {
							consider(e, end)
						}
					}
					off += sz
				}
			}
			if best == nil && single.e != nil {
				if single.weight == 0 {
					single.weight = single.e.weight
				}
				occs = append(occs, kwOcc{e: single.e, ti: int32(i), tj: int32(i), cls: single.cls, weight: single.weight})
				mask[i] |= single.cls
				continue
			}
		case tkCJK:
			if i > runLast {
				runLast = i
				for runLast+1 < len(d.toks) && d.toks[runLast+1].kind == tkCJK && !d.toks[runLast+1].spaceBefore {
					runLast++
				}
				runEnd = int(d.toks[runLast].fe)
			}
			seg := d.folded[t.fs:runEnd]
			r0, _ := utf8.DecodeRune(seg)
			for _, e := range kwCJK[r0] {
				if !bytes.HasPrefix(seg, []byte(e.words[0].s)) {
					continue
				}
				stop := int(t.fs) + len(e.words[0].s)
				end := i
				for end < runLast && int(d.toks[end].fe) < stop {
					end++
				}
				if better(e, end, best, bestEnd) {
					best, bestEnd = e, end
				}
			}
		default:
			continue
		}
		if best == nil {
			continue
		}
		occs = append(occs, kwOcc{e: best, ti: int32(i), tj: int32(bestEnd), cls: best.cls, weight: best.weight})
		for k := i; k <= bestEnd; k++ {
			mask[k] |= best.cls
		}
		i = bestEnd
	}
	return occs, mask
}

// isProclitic reports whether r is a Hebrew or Arabic one-letter proclitic
// (conjunction, article, preposition) that attaches to the next word.
func isProclitic(r rune) bool {
	switch r {
	case 'ו', 'ה', 'ב', 'ל', 'מ', 'ש', 'כ', // Hebrew
		'و', 'ف', 'ب', 'ك', 'ل', 'ا', 'أ': // Arabic (ال, بال, وال, فال, لل)
		return true
	}
	return false
}

// compoundHead reports whether head may begin a compound with a keyword
// suffix: "anmelde|code", "verificatie|code", "sms|kod", but not
// "vs|code" or "fan|code": a head of at least four letters, or one of a
// few short words that do form such compounds.
func compoundHead(head []byte) bool {
	if utf8.RuneCount(head) >= 4 {
		return true
	}
	switch string(head) {
	case "sms", "otp", "tan", "app", "web", "pin", "mfa", "2fa", "pass", "auth":
		return true
	}
	return false
}
