-- Responses of mutating calls, kept under the caller's request id so that a retry returns the
-- first answer instead of changing anything twice (DESIGN.md section 6). Written in the same
-- transaction as the change it answers for.
CREATE TABLE request_ids (
    scope       text        NOT NULL,
    method      text        NOT NULL,
    request_id  text        NOT NULL,
    response    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, method, request_id)
);

CREATE INDEX request_ids_created_at ON request_ids (created_at);
