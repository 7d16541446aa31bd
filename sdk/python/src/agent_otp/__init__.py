"""agent_otp: the Python SDK of agentotp.

An agent asks the relay for one verification code and says why; the owner
approves; the relay catches that one SMS or email, seals the code to the
agent's public key, and the agent reads it exactly once::

    from agent_otp import AgentOTPClient, generate_key_pair, export_public_key

    otp = AgentOTPClient()                      # $AGENT_OTP_API_KEY, $AGENT_OTP_BASE_URL (or $AGENTOTP_URL)
    public_key, private_key = generate_key_pair()
    request = otp.request_otp(
        reason="Sign up for Acme",
        public_key=export_public_key(public_key),
        wait_for_otp=True,
        timeout=120,
    )
    if request.status == "otp_received":
        print(otp.consume_otp(request.id, private_key).code)

Waiting uses the relay's long-poll (``GET /v1/otp/{id}?wait=…``), never a
sleep loop. The HTTP contract is the repository's ``docs/api.md``.
"""

from ._approval import (
    METHOD_ED25519,
    METHOD_NONE,
    METHOD_WEBAUTHN,
    ApprovalStatement,
    ApprovalVerificationError,
    InvalidTrustError,
    Trust,
    TrustedKey,
    parse_statement,
    parse_trust,
    signing_key_id,
    verify_approval,
    verify_statement,
)
from ._client import AgentOTPClient, AsyncAgentOTPClient
from ._core import DEFAULT_BASE_URL, __version__
from ._errors import (
    AgentOTPError,
    AuthenticationError,
    DecryptionError,
    FieldError,
    InvalidKeyError,
    NetworkError,
    OTPAlreadyConsumedError,
    OTPApprovalDeniedError,
    OTPCancelledError,
    OTPExpiredError,
    OTPNotFoundError,
    OTPNotReadyError,
    RateLimitError,
    ServerError,
    is_transient,
    TimeoutError,
    ValidationError,
    WebhookVerificationError,
)
from ._keys import (
    HPKE_MLKEM768_X25519,
    HPKE_X25519,
    RSA_OAEP_256,
    RSA_OAEP_256_BOUND,
    Algorithm,
    PrivateKey,
    PublicKey,
    decrypt_otp_payload,
    export_private_key,
    export_public_key,
    generate_key_pair,
    import_private_key,
    import_public_key,
)
from ._models import (
    FINAL_STATUSES,
    WAITING_STATUSES,
    ConsumeResult,
    FilterDict,
    IngestResult,
    MessageMetadata,
    OTPFilter,
    OTPRequest,
    OTPStatus,
    WebhookEvent,
)
from ._webhook import DEFAULT_WEBHOOK_TOLERANCE, verify_webhook

__all__ = [
    "__version__",
    "DEFAULT_BASE_URL",
    "AgentOTPClient",
    "AsyncAgentOTPClient",
    "AgentOTPError",
    "AuthenticationError",
    "ValidationError",
    "FieldError",
    "RateLimitError",
    "OTPNotFoundError",
    "OTPNotReadyError",
    "OTPExpiredError",
    "OTPAlreadyConsumedError",
    "OTPApprovalDeniedError",
    "OTPCancelledError",
    "DecryptionError",
    "TimeoutError",
    "NetworkError",
    "ServerError",
    "is_transient",
    "InvalidKeyError",
    "WebhookVerificationError",
    "RSA_OAEP_256",
    "RSA_OAEP_256_BOUND",
    "HPKE_X25519",
    "HPKE_MLKEM768_X25519",
    "Algorithm",
    "PublicKey",
    "PrivateKey",
    "generate_key_pair",
    "export_public_key",
    "import_public_key",
    "export_private_key",
    "import_private_key",
    "decrypt_otp_payload",
    "OTPStatus",
    "WAITING_STATUSES",
    "FINAL_STATUSES",
    "OTPFilter",
    "FilterDict",
    "MessageMetadata",
    "OTPRequest",
    "ConsumeResult",
    "IngestResult",
    "WebhookEvent",
    "verify_webhook",
    "DEFAULT_WEBHOOK_TOLERANCE",
    "METHOD_ED25519",
    "METHOD_WEBAUTHN",
    "METHOD_NONE",
    "Trust",
    "TrustedKey",
    "ApprovalStatement",
    "ApprovalVerificationError",
    "InvalidTrustError",
    "parse_trust",
    "parse_statement",
    "signing_key_id",
    "verify_approval",
    "verify_statement",
]
