DROP INDEX collections_user_type_parent;
DROP INDEX generations_user_created;
DROP INDEX generations_user_type_model_id;
DROP INDEX generations_user_model_id;
DROP INDEX generations_user_type_id;
CREATE INDEX generations_user_status ON generations (user_id, status);
DROP INDEX generations_user_status_id;
