"""Settings of one SMPP connection to a carrier's SMSC (one `[[channels]]` table)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class SmppChannelConfig(BaseModel):
    # allow_inf_nan: TOML's inf passes ge/gt bounds (a response timeout that never ends)
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, description="unique name of this bind, e.g. 'btl-1'")
    carrier: str = Field(min_length=1, description="binds of one carrier fail over to each other")
    host: str
    port: int = Field(ge=1, le=65535)
    system_id: str = Field(min_length=1, max_length=15)
    password: SecretStr | None = Field(default=None, description="prefer password_env")
    password_env: str | None = Field(default=None, description="environment variable to read")
    system_type: str = Field(default="", max_length=12)
    bind: Literal["transceiver", "transmitter+receiver"] = "transceiver"
    tps: int = Field(default=50, ge=0, description="contracted submits per second; 0: no cap")
    window: int = Field(default=10, ge=1, le=1000, description="max submits awaiting a response")
    prefixes: tuple[str, ...] = Field(default=(), description="E.164 prefixes this bind serves")
    enquire_link_s: float = Field(default=30.0, gt=0, description="keep-alive interval")
    response_timeout_s: float = Field(default=10.0, gt=0, description="wait for any response")
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=60.0)
    throttle_pause_s: float = Field(
        default=1.0, gt=0, description="first pause after ESME_RTHROTTLED / ESME_RMSGQFUL"
    )
    jitter_margin_ms: float = Field(
        default=30.0,
        ge=0,
        le=1000,
        description="how much the delay from a submit's turn to its arrival at the SMSC may "
        "vary (our timers take up to 2 ms of it, the network the rest) with the SMSC's own count "
        "of any one second still at most tps; the rate reached is tps / (1 s + this): 97.1% at "
        "30 ms",
    )
    expected_response_ms: float = Field(
        default=200.0, gt=0, description="typical submit_sm_resp delay; sizes the window warning"
    )
    default_alphabet: Literal["gsm7", "latin1"] = Field(
        default="gsm7", description="what this SMSC means by data_coding 0"
    )
    registered_delivery: bool = Field(default=True, description="ask for delivery receipts")
    submit_id_base: Literal["text", "hex", "decimal"] = Field(
        default="text", description="how submit_sm_resp message ids are written"
    )
    receipt_id_base: Literal["text", "hex", "decimal"] = Field(
        default="text", description="how receipts write the id (some SMSCs: hex, then decimal)"
    )

    @field_validator("prefixes")
    @classmethod
    def _prefixes_are_e164(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not (prefix.startswith("+") and prefix[1:].isdigit()):
                raise ValueError(f"prefix {prefix!r} must be '+' and digits, e.g. '+5016'")
        return value

    @model_validator(mode="after")
    def _resolve_password(self) -> SmppChannelConfig:
        if self.password_env is not None:
            if self.password is not None:
                raise ValueError("give password or password_env, not both")
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"environment variable {self.password_env} is not set")
            object.__setattr__(self, "password", SecretStr(value))
        if len(self.secret.encode("latin-1", "replace")) > 8:
            # SMPP 3.4 §4.1.1: password is a C-Octet String of at most 9 octets with its NUL.
            key = f"{self.password_env} (password_env)" if self.password_env else "password"
            raise ValueError(f"{key}: an SMPP password has at most 8 characters")
        return self

    @property
    def secret(self) -> str:
        return self.password.get_secret_value() if self.password else ""
