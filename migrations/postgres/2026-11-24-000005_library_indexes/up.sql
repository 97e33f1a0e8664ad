-- Keyset pages of the library with a filter stay index-only for users with many results
-- (measured with examples/library_bench.rs, see docs/benchmarks.md).
CREATE INDEX generations_user_status_id ON generations (user_id, status, id);
DROP INDEX generations_user_status;
CREATE INDEX generations_user_type_id ON generations (user_id, generation_type, id);
CREATE INDEX generations_user_model_id ON generations (user_id, provider, model, id);
CREATE INDEX generations_user_type_model_id ON generations (user_id, generation_type, provider, model, id);
CREATE INDEX generations_user_created ON generations (user_id, created_at, id);
CREATE INDEX collections_user_type_parent ON collections (user_id, node_type, parent_key);
