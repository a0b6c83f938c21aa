-- Users and the accounts each may sign into (DESIGN.md section 3, I15), and the allowed
-- values of a variable's user input control (I13).

-- A user is the `sub` of their tokens; the identity provider owns everything else about them.
CREATE TABLE users (
    id          text        PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 256),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A token's `acct` and `role` must match one of these (or an admin membership of the
-- account's partner). Goes with the account.
CREATE TABLE memberships (
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id)
);

CREATE INDEX memberships_user ON memberships (user_id, account_id);

ALTER TABLE variables
    ADD COLUMN allowed_values text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(allowed_values) <= 500);
