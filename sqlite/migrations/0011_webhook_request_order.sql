-- Webhook deliveries are claimed head-of-line per request, not per URL
-- (a failing delivery held back every later one to its URL): the claim
-- looks for an earlier pending delivery of the same request.
CREATE INDEX webhook_outbox_request_pending ON webhook_outbox (request_id, seq) WHERE state = 'pending';
