-- Cost (issue 13 item 6): what each task was charged at submit, from the model catalogue's
-- price, and when it was refunded (a failed or canceled task, exactly once: the refund is a
-- conditional UPDATE of `refunded_at IS NULL`). A side table: `generations` is at diesel's
-- 32-column limit.
CREATE TABLE generation_charges (
    generation_id BIGINT PRIMARY KEY NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    charged_at TIMESTAMP NOT NULL,
    refunded_at TIMESTAMP
);
-- A budget check sums one user's charges of the month.
CREATE INDEX generation_charges_user ON generation_charges (user_id, charged_at);

-- Per-user monthly budget set by admins; no row: no limit.
CREATE TABLE user_budgets (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    monthly_micros BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
