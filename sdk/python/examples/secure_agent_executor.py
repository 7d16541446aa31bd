import os

from agent_otp import (
    AgentOTPClient,
    generate_key_pair,
    export_public_key,
)
from typing import Dict, Any, Optional


class SecureAgentExecutor:
    def __init__(self, api_key: str):
        self.otp = AgentOTPClient(api_key=api_key)
        self.public_key, self.private_key = generate_key_pair()

    def execute_with_otp(
        self,
        action: str,
        params: Dict[str, Any]
    ) -> Dict[str, Any]:
        """Execute an action that requires OTP verification."""

        # Build filter from params
        filter_opts = params.get("filter", {})

        # Request OTP
        request = self.otp.request_otp(
            reason=f"{action}: {params}",
            expected_sender=params.get("service"),
            filter=filter_opts if filter_opts else None,
            public_key=export_public_key(self.public_key),
            wait_for_otp=True,
            timeout=120
        )

        if request.status != "otp_received":
            return {
                "success": False,
                "error": f"OTP request failed: {request.status}"
            }

        # Consume the OTP
        try:
            result = self.otp.consume_otp(request.id, self.private_key)
            return {"success": True, "code": result.code}
        except Exception as e:
            return {"success": False, "error": str(e)}


# Usage
executor = SecureAgentExecutor(api_key=os.environ["AGENT_OTP_API_KEY"])
result = executor.execute_with_otp("signup_verification", {
    "service": "Acme Inc",
    "email": "user@example.com",
    "filter": {
        "sources": ["email"],
        "sender_pattern": "*@acme.com"
    }
})

if result["success"]:
    print(f"Received OTP: {result['code']}")
