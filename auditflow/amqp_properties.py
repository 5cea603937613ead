"""The AMQP 0-9-1 Basic property flags of the one message shape AuditFlow publishes.

The generator encodes it by hand (`auditflow.generator.amqp_wire`) and the analysis service
decodes it by hand (`auditflow.analysis.amqp_receive`); both read the shape from here, so the two
ends cannot drift apart. Flag bits are numbered from the high bit, as in the protocol.
"""

from __future__ import annotations

FLAG_CONTENT_TYPE = 1 << 15
FLAG_HEADERS = 1 << 13
FLAG_DELIVERY_MODE = 1 << 12
FLAG_CORRELATION_ID = 1 << 10
FLAG_MESSAGE_ID = 1 << 7

# content type, headers {x-correlation-id}, delivery mode, correlation id, message id
EVENT_MESSAGE_FLAGS = (
    FLAG_CONTENT_TYPE | FLAG_HEADERS | FLAG_DELIVERY_MODE | FLAG_CORRELATION_ID | FLAG_MESSAGE_ID
)
