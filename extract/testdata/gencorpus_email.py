#!/usr/bin/env python3
"""Generates testdata/corpus/email.jsonl: whole RFC 5322 messages with
MIME structures, transfer encodings and charsets. Wants are written from
reading the message as a person would.  Run:  python3 gencorpus_email.py
"""
import base64, json, os, quopri

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "email.jsonl")
DATE = "Mon, 23 Nov 2026 09:00:00 +0000"

def b64(data: bytes, wrap=76) -> str:
    s = base64.b64encode(data).decode()
    if not wrap:
        return s
    return "\r\n".join(s[i:i+wrap] for i in range(0, len(s), wrap))

def qp(data: bytes) -> str:
    return quopri.encodestring(data).decode("ascii")

def ew_b(text, cs="utf-8"):
    return "=?%s?B?%s?=" % (cs.upper(), base64.b64encode(text.encode(cs)).decode())

def ew_q(text, cs="utf-8"):
    out = []
    for byte in text.encode(cs):
        c = chr(byte)
        if c == " ":
            out.append("_")
        elif c.isalnum() and byte < 128:
            out.append(c)
        else:
            out.append("=%02X" % byte)
    return "=?%s?Q?%s?=" % (cs.upper(), "".join(out))

def body_part(text, ctype="text/plain", charset="utf-8", cte="7bit", extra=""):
    data = text.encode(charset) if charset else text.encode("utf-8")
    if cte == "base64":
        enc = b64(data)
    elif cte == "quoted-printable":
        enc = qp(data)
    elif (charset or "utf-8").lower() in ("utf-8", "us-ascii"):
        enc = data.decode("utf-8")
    else:
        enc = data.decode("ascii")  # 7bit charsets such as ISO-2022-JP keep their bytes
    ct = ctype + ("; charset=%s" % charset if charset else "")
    hdr = "Content-Type: %s\r\n" % ct
    if cte:
        hdr += "Content-Transfer-Encoding: %s\r\n" % cte
    hdr += extra
    return hdr, enc

def message(cid, sender, subject, hdr, body, extra_headers=""):
    h = "From: %s\r\nTo: me@example.net\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@corpus.example>\r\nMIME-Version: 1.0\r\n%s%s" % (
        sender, subject, DATE, cid, extra_headers, hdr)
    return h + "\r\n" + body

def single(cid, sender, subject, text, want, **kw):
    hdr, enc = body_part(text, **kw)
    return (cid, sender, message(cid, sender, subject, hdr, enc), want)

def multipart(cid, sender, subject, subtype, parts, want, boundary=None, extra_headers=""):
    b = boundary or ("b_" + cid.replace("-", "_"))
    body = ""
    for hdr, enc in parts:
        body += "--%s\r\n%s\r\n%s\r\n" % (b, hdr, enc)
    body += "--%s--\r\n" % b
    hdr = 'Content-Type: multipart/%s; boundary="%s"\r\n' % (subtype, b)
    return (cid, sender, message(cid, sender, subject, hdr, body, extra_headers), want)

def nested(subtype, parts, boundary):
    body = ""
    for hdr, enc in parts:
        body += "--%s\r\n%s\r\n%s\r\n" % (boundary, hdr, enc)
    body += "--%s--" % boundary
    return ('Content-Type: multipart/%s; boundary="%s"\r\n' % (subtype, boundary), body)

def html_doc(inner, head_extra=""):
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Example</title>"
            "<style>body{font-family:Arial} .code{letter-spacing:6px;color:#482913} @media (max-width:600px){.x{width:100%}}</style>"
            + head_extra + "</head><body>" + inner + "</body></html>")

FOOTER = ("<table width=\"100%\"><tr><td style=\"font-size:12px;color:#888\">Example Inc, 548 Market St, Suite 4021, "
          "San Francisco, CA 94104<br>Questions? Call 1-888-555-0142<br>&copy; 2026 Example Inc. All rights reserved.<br>"
          "<a href=\"https://example.com/unsubscribe?u=58213947\">Unsubscribe</a></td></tr></table>")

S = "Example <no-reply@example.com>"
cases = []

# 1 multipart/alternative: a short plain part + HTML with the code in a table cell
cases.append(multipart("email-alt-td", S, "Your Example verification code", "alternative", [
    body_part("Your email client cannot display this message. View it at https://example.com/m/8821"),
    body_part(html_doc("<table><tr><td>Your verification code is:</td></tr><tr><td class=\"code\" style=\"font-size:32px\">739104</td></tr>"
                       "<tr><td>This code expires in 10 minutes.</td></tr></table>" + FOOTER), "text/html", "utf-8", "quoted-printable"),
], "739104"))

# 2 HTML only, base64, one span per digit
cases.append(single("email-spans-base64", S, "Sign in to Example",
    html_doc("<p>Use this code to sign in:</p><div class=\"code\"><span>4</span><span>8</span><span>2</span><span>9</span><span>1</span><span>3</span></div>" + FOOTER),
    "482913", ctype="text/html", cte="base64"))

# 3 hidden preheader with other numbers
cases.append(single("email-hidden-preheader", S, "Verify your email",
    html_doc("<div style=\"display:none;max-height:0;overflow:hidden\">Order 55201 ships soon &zwnj;&nbsp;&zwnj;&nbsp;</div>"
             "<span class=\"preheader\" style=\"color:transparent\">Save 20% with 4410 points</span>"
             "<h1>Confirm your email</h1><p>Enter this code in the app:</p><h2>730192</h2>" + FOOTER),
    "730192", ctype="text/html", cte="quoted-printable"))

# 4 one digit per table cell
cases.append(single("email-digit-cells", S, "Your login code",
    html_doc("<p>Your login code:</p><table><tr><td class=\"box\">6</td><td class=\"box\">0</td><td class=\"box\">5</td>"
             "<td class=\"box\">1</td><td class=\"box\">2</td><td class=\"box\">3</td></tr></table><p>It expires in 15 minutes.</p>" + FOOTER),
    "605123", ctype="text/html", cte="quoted-printable"))

# 5 numbers in script and style only
cases.append(single("email-script-style", S, "Security code",
    html_doc("<script>var uid=99120344; track(771203);</script><p style=\"color:#339120\">Your security code is <b>663201</b>.</p>" + FOOTER,
             "<style>.otp{color:#551203}</style>"),
    "663201", ctype="text/html", cte="7bit"))

# 6 link target with a different number
cases.append(single("email-link-target", S, "Verify your account",
    html_doc("<p><a href=\"https://example.com/verify?uid=55019283&amp;t=8812\">Verify my account</a></p>"
             "<p>Or enter this code: <strong>44120</strong></p>" + FOOTER),
    "44120", ctype="text/html", cte="quoted-printable"))

# 7 ISO-8859-1 QP German with Q-encoded subject
cases.append(single("email-latin1-de", "Beispiel <noreply@beispiel.de>", ew_q("Ihr Bestätigungscode", "iso-8859-1"),
    "Hallo,\n\nIhr Bestätigungscode lautet: 581203\n\nDer Code ist 15 Minuten gültig.\n\nBeispiel GmbH, Königstraße 12, 70173 Stuttgart",
    "581203", charset="iso-8859-1", cte="quoted-printable"))

# 8 Windows-1252 smart quotes
cases.append(single("email-cp1252-quotes", S, "Your code",
    "Hi,\n\nYour one-time code is \u201c663201\u201d \u2014 don\u2019t share it.\n\n\u00a9 2026 Example",
    "663201", charset="windows-1252", cte="quoted-printable"))

# 9 GB2312 base64 Chinese with B-encoded subject
cases.append(single("email-gb2312", "示例 <noreply@example.cn>", ew_b("您的验证码", "gb2312"),
    "您好：\n\n您的验证码是：739201，10分钟内有效。请勿泄露给他人。\n\n示例公司 客服电话 400-820-1234",
    "739201", charset="gb2312", cte="base64"))

# 10 GBK
cases.append(single("email-gbk", "示例 <noreply@example.cn>", ew_b("登录验证", "gbk"),
    "【示例】登录验证码 8821，如非本人操作，请忽略本邮件。",
    "8821", charset="gbk", cte="base64"))

# 11 Shift_JIS base64 Japanese
cases.append(single("email-shift-jis", "サンプル <noreply@example.jp>", ew_b("認証コードのお知らせ", "shift_jis"),
    "サンプルをご利用いただきありがとうございます。\n\n認証コード：582913\n\nこのコードの有効期限は30分です。\n〒100-0001 東京都千代田区千代田1-1",
    "582913", charset="shift_jis", cte="base64"))

# 12 ISO-2022-JP 7bit
cases.append(single("email-iso2022jp", "サンプル <noreply@example.jp>", ew_b("確認コード", "iso-2022-jp"),
    "確認コードは 304918 です。\n2026年11月23日",
    "304918", charset="iso-2022-jp", cte="7bit"))

# 13 EUC-KR base64 Korean
cases.append(single("email-euc-kr", "예시 <noreply@example.kr>", ew_b("인증번호 안내", "euc-kr"),
    "[예시] 인증번호 [482013]를 입력해 주세요.\n고객센터 1588-1234",
    "482013", charset="euc-kr", cte="base64"))

# 14 ks_c_5601-1987 label (Outlook)
cases.append(single("email-ks-c-5601", "예시 <noreply@example.kr>", ew_b("로그인 확인", "euc-kr").replace("EUC-KR", "ks_c_5601-1987"),
    "로그인 인증코드는 7720 입니다.",
    "7720", charset="euc-kr", cte="base64"))
cases[-1] = (cases[-1][0], cases[-1][1], cases[-1][2].replace("charset=euc-kr", "charset=ks_c_5601-1987"), cases[-1][3])

# 15 Big5 base64 traditional Chinese
cases.append(single("email-big5", "範例 <noreply@example.tw>", ew_b("驗證碼通知", "big5"),
    "您的驗證碼：620193，請於10分鐘內輸入。",
    "620193", charset="big5", cte="base64"))

# 16 Windows-1251 Russian
cases.append(single("email-cp1251", "Пример <noreply@example.ru>", ew_b("Код подтверждения", "windows-1251"),
    "Здравствуйте!\n\nКод подтверждения: 5521\n\nНикому не сообщайте этот код.",
    "5521", charset="windows-1251", cte="base64"))

# 17 KOI8-R QP Russian
cases.append(single("email-koi8r", "Пример <noreply@example.ru>", ew_q("Вход в аккаунт", "koi8-r"),
    "Ваш код для входа: 840213",
    "840213", charset="koi8-r", cte="quoted-printable"))

# 18 ISO-8859-7 Greek
cases.append(single("email-greek", "Παράδειγμα <noreply@example.gr>", ew_b("Κωδικός επαλήθευσης", "iso-8859-7"),
    "Ο κωδικός επαλήθευσης είναι 551902",
    "551902", charset="iso-8859-7", cte="quoted-printable"))

# 19 Windows-1255 Hebrew
cases.append(single("email-hebrew", "Example <noreply@example.co.il>", ew_b("קוד אימות", "windows-1255"),
    "קוד האימות שלך הוא 730518",
    "730518", charset="windows-1255", cte="base64"))

# 20 Windows-1256 Arabic
cases.append(single("email-arabic", "Example <noreply@example.sa>", ew_b("رمز التحقق", "windows-1256"),
    "رمز التحقق الخاص بك هو 664120",
    "664120", charset="windows-1256", cte="base64"))

# 21 Hindi UTF-8 QP
cases.append(single("email-hindi", "Example <noreply@example.in>", ew_b("आपका ओटीपी"),
    "आपका ओटीपी 390214 है। इसे किसी के साथ साझा न करें।",
    "390214", charset="utf-8", cte="quoted-printable"))

# 22 multipart/mixed with a PDF attachment
pdf = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\n" + bytes(range(256)) + b"\n%%EOF 4821 99120"
cases.append(multipart("email-attachment", S, "Your sign-in code and invoice", "mixed", [
    body_part("Your sign-in code is 661204.\n\nYour invoice is attached."),
    ("Content-Type: application/pdf; name=\"invoice_48213.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"invoice_48213.pdf\"\r\n", b64(pdf)),
], "661204"))

# 23 nested mixed > related > alternative
alt = nested("alternative", [
    body_part("Your Example passcode: 920413"),
    body_part(html_doc("<p>Your Example passcode:</p><p><img src=\"cid:logo\" alt=\"4821\"></p><h1>920413</h1>" + FOOTER), "text/html", "utf-8", "base64"),
], "alt_inner")
rel = nested("related", [alt, ("Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n", b64(b"\x89PNG\r\n\x1a\n" + b"1234567890" * 20))], "rel_mid")
cases.append(multipart("email-nested", S, "Passcode", "mixed", [rel], "920413"))

# 24 forwarded message/rfc822
inner = message("fwd-inner", "Bank <alerts@bank.example>", "Your verification code", "Content-Type: text/plain; charset=utf-8\r\n", "Your verification code is 318204. It expires in 5 minutes.")
cases.append(multipart("email-forwarded", "Me <me@example.net>", "Fwd: Your verification code", "mixed", [
    body_part("FYI, see below.\n\n-- \nSent from my phone"),
    ("Content-Type: message/rfc822\r\n", inner),
], "318204"))

# 25 multipart without boundary parameter
cid = "email-no-boundary"
body = "--xyz123\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour code is 550192\r\n--xyz123--\r\n"
cases.append((cid, S, message(cid, S, "Code", "Content-Type: multipart/alternative\r\n", body), "550192"))

# 26 no Content-Type at all
cid = "email-no-content-type"
cases.append((cid, S, "From: %s\r\nTo: me@example.net\r\nSubject: Login\r\nDate: %s\r\n\r\nYour login code: 7741" % (S, DATE), "7741"))

# 27 declared us-ascii but UTF-8 bytes (8bit)
cases.append(single("email-mislabelled-ascii", "Beispiel <noreply@beispiel.de>", "Ihr Code",
    "Ihr Einmalcode für die Anmeldung: 820193 – gültig für 10 Minuten.", "820193", charset="utf-8", cte="8bit"))
cases[-1] = (cases[-1][0], cases[-1][1], cases[-1][2].replace("charset=utf-8", "charset=us-ascii"), cases[-1][3])

# 28 code only in the subject
cases.append(single("email-subject-only", S, "Your Example code: 662019",
    html_doc("<h1>Welcome back!</h1><p>Use the code in the subject line to finish signing in.</p>" + FOOTER), "662019", ctype="text/html", cte="quoted-printable"))

# 29 B-encoded French subject with the code
cases.append(single("email-subject-b-fr", "Exemple <noreply@exemple.fr>", ew_b("829104 est votre code Exemple"),
    "Bonjour,\n\nSaisissez le code indiqué dans l'objet de ce message.", "829104", charset="utf-8", cte="quoted-printable"))

# 30 Q-encoded Spanish subject
cases.append(single("email-subject-q-es", "Ejemplo <noreply@ejemplo.es>", ew_q("Tu código: 440912"),
    "Hola, usa el código del asunto para iniciar sesión.", "440912", charset="utf-8", cte="7bit"))

# 31 big table layout, code in h1 between footer noise
cases.append(single("email-table-layout", S, "Verification",
    html_doc("<table><tr><td><img src=\"https://example.com/logo.png\" alt=\"Example\"></td></tr>"
             "<tr><td><h3>Hi Alex,</h3><p>Here is your verification code:</p></td></tr>"
             "<tr><td align=\"center\"><h1 style=\"letter-spacing:8px\">904127</h1></td></tr>"
             "<tr><td><p>If you didn't request this code, you can ignore this email. Account ID: 58201934</p></td></tr></table>" + FOOTER),
    "904127", ctype="text/html", cte="base64"))

# 32 Microsoft-style plain
cases.append(single("email-microsoft", "Microsoft account team <account-security-noreply@accountprotection.microsoft.com>", "Microsoft account security code",
    "Microsoft account\n\nSecurity code\n\nPlease use the following security code for the Microsoft account al***@example.net.\n\nSecurity code: 4821\n\nIf you don't recognize the Microsoft account al***@example.net, you can click here to remove your email address from that account.\n\nThanks,\nThe Microsoft account team",
    "4821", charset="utf-8", cte="quoted-printable"))

# 33 Amazon-style OTP paragraph
cases.append(single("email-amazon-otp", "Amazon <account-update@amazon.com>", "Amazon password assistance",
    html_doc("<p>To authenticate, please use the following One Time Password (OTP):</p><p class=\"otp\" style=\"font-size:24px\"><b>330192</b></p>"
             "<p>Don't share this OTP with anyone. Our customer service team will never ask you for your password, OTP, credit card, or banking info.</p>"
             "<p>We hope to see you again soon.</p>"), "330192", ctype="text/html", cte="quoted-printable"))

# 34 GitHub 8-digit
cases.append(single("email-github", "GitHub <noreply@github.com>", "[GitHub] Please verify your device",
    "Hey octocat!\n\nA sign in attempt requires further verification because we did not recognize your device. To complete the sign in, enter the verification code on the unrecognized device.\n\nDevice: Chrome on macOS\nVerification code: 48213957\n\nIf you did not attempt to sign in to your account, your password may be compromised.\n\nThanks,\nThe GitHub Team",
    "48213957", charset="utf-8", cte="7bit"))

# 35 Slack-style grouped letters and digits
cases.append(single("email-slack", "Slack <no-reply@slack.com>", "Slack confirmation code: Q7Z-K2P",
    html_doc("<h1>Confirm your email address</h1><p>Your confirmation code is below — enter it in your open browser window and we'll help you get signed in.</p>"
             "<div style=\"font-size:30px\">Q7Z-K2P</div><p>If you didn't request this email, there's nothing to worry about.</p>"),
    "Q7ZK2P", ctype="text/html", cte="quoted-printable"))

# 36 origin-bound line in an e-mail
cases.append(single("email-origin-bound", S, "Your code", "Your Example code is 629104.\n\n@example.com #629104", "629104"))

# 37 QP soft break inside the code
cid = "email-qp-softbreak"
cases.append((cid, S, message(cid, S, "Code", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    "Your verification code is 4829=\r\n13. It expires in 10 minutes.=\r\n"), "482913"))

# 38 base64 without padding or line breaks
cid = "email-base64-nopad"
raw = base64.b64encode("Your login code: 778102 (valid 5 minutes)!".encode()).decode().rstrip("=")
cases.append((cid, S, message(cid, S, "Code", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n", raw), "778102"))

# 39 nbsp between groups
cases.append(single("email-nbsp-groups", S, "Your code",
    html_doc("<p>Your code: <b>482&nbsp;913</b></p>"), "482913", ctype="text/html", cte="7bit"))

# 40 numeric character references
cases.append(single("email-char-refs", S, "Your code",
    html_doc("<p>Your verification code is <span>&#53;&#50;&#57;&#48;&#49;&#51;</span></p>" + FOOTER), "529013", ctype="text/html", cte="7bit"))

# 41 code inline in a sentence with footer phone/year/address
cases.append(single("email-inline-strong", "Example Bank <alerts@bank.example>", "Confirm your transfer",
    html_doc("<p>Dear customer,</p><p>To confirm the transfer of <b>EUR 1.250,00</b> to IBAN DE89 3704 0044 0532 0130 00, enter the code <strong>820466</strong> in online banking.</p>"
             "<p>Example Bank AG, Musterstraße 1, 60311 Frankfurt am Main &middot; Tel. +49 69 1234 5678 &middot; 2026</p>"),
    "820466", ctype="text/html", cte="quoted-printable"))

# 42 HTML only with meta charset and no MIME charset (windows-1252 bytes)
cid = "email-meta-charset"
h = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head><body><p>Votre code de v\u00e9rification\u00a0: 553017</p></body></html>"
cases.append((cid, S, message(cid, S, "Code", "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n", qp(h.encode("cp1252"))), "553017"))

# ---- no code ----
cases.append(single("email-null-receipt", "Example Shop <orders@example.com>", "Your order #112-4829301 has been received",
    html_doc("<h2>Thanks for your order!</h2><table><tr><td>Order number</td><td>4829301</td></tr><tr><td>Order date</td><td>23 Nov 2026</td></tr>"
             "<tr><td>Subtotal</td><td>$58.00</td></tr><tr><td>Shipping</td><td>$4.99</td></tr><tr><td>Total</td><td>$62.99</td></tr></table>"
             "<p>Shipping to: 1200 Oak Avenue, Apt 4, Portland, OR 97205</p>" + FOOTER), None, ctype="text/html", cte="quoted-printable"))
cases.append(single("email-null-newsletter", "Example <news@example.com>", "Black Friday: 40% off everything",
    html_doc("<div style=\"display:none\">Your code inside</div><h1>BLACK FRIDAY</h1><p>Use promo code BF2026 at checkout for 40% off. Ends 11/30/2026.</p>"
             "<p>Over 5000 products on sale. Free shipping over $50.</p>" + FOOTER), None, ctype="text/html", cte="base64"))
cases.append(single("email-null-password-changed", "Example <security@example.com>", "Your password was changed",
    "Hi Alex,\n\nThe password for your Example account was changed on November 23, 2026 at 09:14 (UTC) from IP address 203.0.113.45 (Berlin, Germany).\n\nIf you did this, you can safely disregard this email. If you didn't, reset your password at https://example.com/reset and contact support at +1 415 555 0100.\n\nThe Example Security Team",
    None, charset="utf-8", cte="quoted-printable"))
cases.append(single("email-null-shipping", "Carrier <track@carrier.example>", "Your parcel is on the way",
    "Your parcel from Example Shop is on the way.\n\nTracking number: 1Z999AA10123456784\nEstimated delivery: Wed 25/11/2026 between 10:00 and 14:00\n\nTrack: https://carrier.example/track/1Z999AA10123456784",
    None, charset="utf-8", cte="7bit"))
cases.append(single("email-null-bank-statement", "Example Bank <statements@bank.example>", "Your November statement is ready",
    "Your statement for the account ending 4421 is ready.\n\nClosing balance: USD 12,480.55\nMinimum payment due: USD 250.00 by 12/15/2026\n\nLog in to online banking to view it.",
    None, charset="utf-8", cte="7bit"))
cases.append(single("email-null-verify-link", S, "Verify your email address",
    html_doc("<h1>Verify your email</h1><p>Click the button below to verify your email address.</p>"
             "<p><a href=\"https://example.com/verify?token=8a7f6e5d4c3b2a19&amp;uid=55019283\" style=\"padding:12px\">Verify email</a></p>"
             "<p>Or paste this link into your browser: https://example.com/verify?token=8a7f6e5d4c3b2a19</p>" + FOOTER),
    None, ctype="text/html", cte="quoted-printable"))
cases.append(single("email-null-euc-kr-order", "쇼핑 <order@shop.example.kr>", ew_b("주문이 완료되었습니다", "euc-kr"),
    "주문번호 20261123-4829301\n결제금액 45,000원\n배송지: 서울특별시 강남구 테헤란로 123\n고객센터 1588-1234",
    None, charset="euc-kr", cte="base64"))
cases.append(single("email-null-iso2022jp-news", "ショップ <news@shop.example.jp>", ew_b("年末セールのお知らせ", "iso-2022-jp"),
    "年末セール開催中！全品20%オフ。クーポンコード WINTER2026 をご利用ください。\n期間：2026年12月1日〜12月31日",
    None, charset="iso-2022-jp", cte="7bit"))
cases.append(single("email-null-latin1-invoice", "Beispiel GmbH <rechnung@beispiel.de>", ew_q("Ihre Rechnung Nr. 2026-4821", "iso-8859-1"),
    "Sehr geehrte Damen und Herren,\n\nanbei Ihre Rechnung Nr. 2026-4821 über 1.250,00 EUR.\nBitte überweisen Sie den Betrag bis zum 15.12.2026 auf das Konto IBAN DE89 3704 0044 0532 0130 00.\n\nBeispiel GmbH, Königstraße 12, 70173 Stuttgart, Tel. 0711 1234567",
    None, charset="iso-8859-1", cte="quoted-printable"))
cases.append(single("email-null-meeting", "Calendar <calendar@example.com>", "Invitation: Weekly sync @ Tue 24 Nov 2026 10:00",
    "You have been invited to Weekly sync.\n\nWhen: Tuesday 24 Nov 2026 10:00 – 10:30 (CET)\nWhere: Room 4021, 3rd floor\nDial-in: +1 646 555 0199, conference ID 482 913 771#\n\nJoin online: https://meet.example.com/abc-defg-hij",
    None, charset="utf-8", cte="7bit"))
cases.append(single("email-null-gb2312-promo", "示例商城 <promo@example.cn>", ew_b("双十一优惠", "gb2312"),
    "双十一大促！优惠码 SALE1111 立减50元，满299元可用。活动时间：11月1日至11月11日。客服电话：400-820-1234",
    None, charset="gb2312", cte="base64"))
cases.append(single("email-null-security-alert", S, "New sign-in to your account",
    html_doc("<p>We noticed a new sign-in to your Example account.</p><table><tr><td>Device</td><td>iPhone 15</td></tr><tr><td>Location</td><td>Lyon, France</td></tr>"
             "<tr><td>Time</td><td>23 Nov 2026, 09:14 UTC</td></tr><tr><td>IP</td><td>198.51.100.23</td></tr></table>"
             "<p>If this was you, you don't need to do anything. If not, secure your account.</p>" + FOOTER),
    None, ctype="text/html", cte="quoted-printable"))

# table cells with labels on the line above the value
cases.append(single("email-table-labels", "Example Bank <alerts@bank.example>", "Approve your transfer",
    html_doc("<p>Please approve this transfer:</p><table><tr><td>Amount</td></tr><tr><td>EUR 1.250,00</td></tr>"
             "<tr><td>Reference</td></tr><tr><td>58213947</td></tr><tr><td>Beneficiary</td></tr><tr><td>Max Mustermann</td></tr>"
             "<tr><td>Your approval code</td></tr><tr><td><b>482913</b></td></tr></table>" + FOOTER),
    "482913", ctype="text/html", cte="quoted-printable"))
cases.append(single("email-null-table-order", "Example Shop <orders@example.com>", "Please verify your shipping address",
    html_doc("<p>Please verify your shipping address below before we ship your order.</p><table><tr><td>Order number</td></tr><tr><td>4829301</td></tr>"
             "<tr><td>Customer ID</td></tr><tr><td>558201</td></tr><tr><td>Address</td></tr><tr><td>1200 Oak Avenue, Portland, OR 97205</td></tr></table>" + FOOTER),
    None, ctype="text/html", cte="quoted-printable"))

# ---- unseen real-world e-mail layouts ----
cases.append(single("email-w-google", "Google <noreply@google.com>", "Google Verification Code",
    "Google Verification Code\n\nDear user,\n\nWe received a request to access your Google Account ***@gmail.com through your email address. Your Google verification code is:\n\n482913\n\nIf you did not request this code, it is possible that someone else is trying to access the Google Account ***@gmail.com. Do not forward or give this code to anyone.\n\nSincerely yours,\n\nThe Google Accounts team",
    "482913", charset="utf-8", cte="quoted-printable"))
cases.append(single("email-w-steam", "Steam Support <noreply@steampowered.com>", "Your Steam account: Access from new web or mobile device",
    "Dear user123,\n\nHere is the Steam Guard code you need to login to account user123:\n\nK4XQ7\n\nThis email was generated because of a login attempt from a web or mobile device located at 203.0.113.5 (DE). The login attempt included your correct account name and password.\n\nThe Steam Guard code is required to complete the login.",
    "K4XQ7", charset="utf-8", cte="7bit"))
cases.append(single("email-w-epic", "Epic Games <help@acct.epicgames.com>", "Your two-factor sign in code",
    html_doc("<p>Hello!</p><h2>Your two-factor sign in code</h2><div style=\"font-size:32px\">482913</div><p>This code is valid for 30 minutes. If you did not request this, please reset your password.</p>" + FOOTER),
    "482913", ctype="text/html", cte="quoted-printable"))
cases.append(single("email-w-binance", "Binance <do_not_reply@mailer.binance.com>", "[Binance] Confirm Your Registration",
    html_doc("<h1>Confirm Your Registration</h1><p>Welcome to Binance!</p><p>Your verification code:</p><p style=\"font-size:28px\"><b>482913</b></p>"
             "<p>The verification code will be valid for 30 minutes. Please do not share this code with anyone.</p><p>Don’t recognize this activity? Please reset your password and contact customer support immediately.</p>"
             "<p>This is an automated message, please do not reply.</p><p>© 2026 Binance.com, All Rights Reserved.</p>"), "482913", ctype="text/html", cte="base64"))
cases.append(single("email-w-facebook-reset", "Facebook <security@facebookmail.com>", "48291307 is your Facebook password reset code",
    "Hi John,\n\nWe received a request to reset your Facebook password.\nEnter the following password reset code:\n\n48291307\n\nAlternatively, you can directly change your password.\n\nDidn't request this change?\nIf you didn't request a new password, let us know.\n\nMeta Platforms, Inc., Attention: Community Support, 1 Meta Way, Menlo Park, CA 94025",
    "48291307", charset="utf-8", cte="quoted-printable"))
cases.append(single("email-w-amazon-jp", "Amazon.co.jp <account-update@amazon.co.jp>", ew_b("Amazon.co.jp: サインインを完了してください"),
    "Amazon.co.jp をご利用いただきありがとうございます。お客様のアカウントでのログインを完了するには、次のワンタイムパスワード(OTP)を入力してください。\n\n482913\n\n（このコードは10分間有効です）",
    "482913", charset="utf-8", cte="base64"))
cases.append(single("email-w-coupang", "쿠팡 <noreply@coupang.com>", ew_b("[쿠팡] 인증번호 안내"),
    html_doc("<p>안녕하세요, 쿠팡입니다.</p><p>쿠팡 인증번호는 <b>[482913]</b> 입니다.</p><p>고객센터 1577-7011</p>"), "482913", ctype="text/html", cte="base64"))
cases.append(single("email-w-microsoft-single-use", "Microsoft account team <account-security-noreply@accountprotection.microsoft.com>", "Your single-use code",
    "Hi al***@example.net,\n\nWe received your request for a single-use code to use with your Microsoft account.\n\nYour single-use code is: 482913\n\nIf you didn't request a code, you can safely ignore this email.\n\nThanks,\nThe Microsoft account team",
    "482913", charset="utf-8", cte="7bit"))
cases.append(single("email-w-paypal-de", "PayPal <service@paypal.de>", ew_q("Ihr PayPal-Sicherheitscode", "iso-8859-1"),
    "Hallo,\n\nIhr Sicherheitscode lautet 482913. Er läuft in 10 Minuten ab. Geben Sie diesen Code nicht weiter.\n\nPayPal (Europe) S.à r.l. et Cie, S.C.A., 22-24 Boulevard Royal, L-2449 Luxembourg",
    "482913", charset="iso-8859-1", cte="quoted-printable"))
cases.append(single("email-w-null-airbnb", "Airbnb <automated@airbnb.com>", "Reservation confirmed for Lisbon",
    html_doc("<h1>Your reservation is confirmed</h1><p>You're going to Lisbon!</p><table><tr><td>Check-in</td><td>Fri, Dec 4, 2026</td></tr><tr><td>Checkout</td><td>Mon, Dec 7, 2026</td></tr>"
             "<tr><td>Confirmation code</td></tr><tr><td>HMXQ4K2P9Z</td></tr><tr><td>Total (EUR)</td><td>€482.13</td></tr></table>" + FOOTER), None, ctype="text/html", cte="quoted-printable"))
cases.append(single("email-w-null-netflix-signin", "Netflix <info@account.netflix.com>", "New sign-in to your account",
    "Hi Alex,\n\nWe noticed a new sign-in to your Netflix account.\n\nDevice: Chrome (Windows)\nLocation: Berlin, Germany\nTime: November 23, 2026 at 9:14 AM GMT+1\n\nIf this was you, you can ignore this email. If not, please change your password.",
    None, charset="utf-8", cte="quoted-printable"))
cases.append(single("email-w-null-github-ssh", "GitHub <noreply@github.com>", "[GitHub] A new SSH authentication public key was added to your account",
    "The following SSH key was added to your account:\n\nLaptop 2026\nSHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8\n\nIf you believe this key was added in error, you can remove the key and disable access at https://github.com/settings/keys\n\nTo see this and other security events for your account, visit https://github.com/settings/security-log",
    None, charset="utf-8", cte="7bit"))
cases.append(single("email-w-null-uber-receipt", "Uber Receipts <noreply@uber.com>", "Your Sunday evening trip with Uber",
    html_doc("<h1>Thanks for riding, Alex</h1><table><tr><td>Total</td><td>$24.80</td></tr><tr><td>Trip fare</td><td>$19.41</td></tr><tr><td>Booking Fee</td><td>$2.89</td></tr></table>"
             "<p>UberX 4.82 miles | 18 min</p><p>2026 Market St, San Francisco, CA 94114 → 1 Ferry Building, San Francisco, CA 94111</p>" + FOOTER), None, ctype="text/html", cte="quoted-printable"))

with open(OUT, "w", encoding="utf-8") as f:
    for cid, sender, text, want in cases:
        f.write(json.dumps({"id": cid, "source": "email", "sender": sender, "text": text, "want": want}, ensure_ascii=False) + "\n")
print(len(cases), sum(1 for c in cases if c[3] is None))
