-- revision: 0008
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)
;
CREATE TABLE experiments (
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	artifact_location VARCHAR(2000) NOT NULL, 
	lifecycle_stage VARCHAR(16) NOT NULL, 
	creation_time BIGINT NOT NULL, 
	last_update_time BIGINT NOT NULL, name_key VARCHAR(80), 
	PRIMARY KEY (experiment_id), 
	UNIQUE (name)
)
;
CREATE TABLE experiment_tags (
	experiment_id INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (experiment_id, "key"), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)
;
CREATE TABLE runs (
	run_pk INTEGER NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(250) NOT NULL, 
	user_id VARCHAR(256) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	start_time BIGINT, 
	end_time BIGINT, 
	lifecycle_stage VARCHAR(16) NOT NULL, 
	artifact_uri VARCHAR(2000) NOT NULL, 
	deleted_time BIGINT, 
	PRIMARY KEY (run_pk), 
	UNIQUE (run_id), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)
)
;
CREATE INDEX ix_runs_experiment_stage_start ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id)
;
CREATE TABLE metric_keys (
	key_id INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	PRIMARY KEY (key_id), 
	UNIQUE ("key")
)
;
CREATE TABLE metrics (
	run_pk INTEGER NOT NULL, 
	key_id INTEGER NOT NULL, 
	step BIGINT NOT NULL, 
	timestamp BIGINT NOT NULL, 
	value DOUBLE NOT NULL, 
	is_nan BOOLEAN NOT NULL, 
	PRIMARY KEY (run_pk, key_id, step, timestamp, value, is_nan)
)
 WITHOUT ROWID


;
CREATE TABLE latest_metrics (
	run_pk INTEGER NOT NULL, 
	key_id INTEGER NOT NULL, 
	value DOUBLE, 
	timestamp BIGINT NOT NULL, 
	step BIGINT NOT NULL, 
	PRIMARY KEY (run_pk, key_id)
)
 WITHOUT ROWID


;
CREATE INDEX ix_latest_metrics_key_value ON latest_metrics (key_id, value)
;
CREATE TABLE params (
	run_pk INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (run_pk, "key"), 
	FOREIGN KEY(run_pk) REFERENCES runs (run_pk) ON DELETE CASCADE
)
 WITHOUT ROWID


;
CREATE TABLE tags (
	run_pk INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (run_pk, "key"), 
	FOREIGN KEY(run_pk) REFERENCES runs (run_pk) ON DELETE CASCADE
)
 WITHOUT ROWID


;
CREATE TABLE datasets (
	dataset_pk INTEGER NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	digest VARCHAR(36) NOT NULL, 
	source_type VARCHAR(36) NOT NULL, 
	source TEXT NOT NULL, 
	schema TEXT, 
	profile TEXT, 
	PRIMARY KEY (dataset_pk), 
	CONSTRAINT uq_datasets_experiment_name_digest UNIQUE (experiment_id, name, digest), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)
)
;
CREATE TABLE run_inputs (
	run_pk INTEGER NOT NULL, 
	dataset_pk INTEGER NOT NULL, 
	PRIMARY KEY (run_pk, dataset_pk), 
	FOREIGN KEY(run_pk) REFERENCES runs (run_pk) ON DELETE CASCADE, 
	FOREIGN KEY(dataset_pk) REFERENCES datasets (dataset_pk) ON DELETE CASCADE
)
;
CREATE INDEX ix_run_inputs_dataset ON run_inputs (dataset_pk)
;
CREATE TABLE input_tags (
	run_pk INTEGER NOT NULL, 
	dataset_pk INTEGER NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	value VARCHAR(500) NOT NULL, 
	PRIMARY KEY (run_pk, dataset_pk, "key")
)
;
CREATE TABLE registered_models (
	model_pk INTEGER NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	name_key VARCHAR(512) NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	last_updated_timestamp BIGINT NOT NULL, 
	description TEXT NOT NULL, 
	user_id VARCHAR(256) NOT NULL, 
	next_version INTEGER NOT NULL, 
	PRIMARY KEY (model_pk), 
	UNIQUE (name), 
	UNIQUE (name_key)
)
;
CREATE TABLE registered_model_tags (
	model_pk INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (model_pk, "key"), 
	FOREIGN KEY(model_pk) REFERENCES registered_models (model_pk) ON DELETE CASCADE
)
;
CREATE TABLE model_versions (
	model_pk INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	last_updated_timestamp BIGINT NOT NULL, 
	current_stage VARCHAR(20) NOT NULL, 
	description TEXT NOT NULL, 
	user_id VARCHAR(256) NOT NULL, 
	source TEXT NOT NULL, 
	run_id VARCHAR(32), 
	run_link TEXT NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	status_message TEXT NOT NULL, 
	storage_location VARCHAR(2000) NOT NULL, 
	PRIMARY KEY (model_pk, version), 
	FOREIGN KEY(model_pk) REFERENCES registered_models (model_pk) ON DELETE CASCADE
)
;
CREATE INDEX ix_model_versions_run_id ON model_versions (run_id)
;
CREATE TABLE model_version_tags (
	model_pk INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (model_pk, version, "key"), 
	FOREIGN KEY(model_pk, version) REFERENCES model_versions (model_pk, version) ON DELETE CASCADE
)
;
CREATE TABLE registered_model_aliases (
	model_pk INTEGER NOT NULL, 
	alias VARCHAR(255) NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (model_pk, alias), 
	FOREIGN KEY(model_pk, version) REFERENCES model_versions (model_pk, version) ON DELETE CASCADE
)
;
CREATE TABLE registry_audit (
	id INTEGER NOT NULL, 
	timestamp BIGINT NOT NULL, 
	user_id VARCHAR(256) NOT NULL, 
	action VARCHAR(40) NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	version VARCHAR(20) NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	from_value TEXT NOT NULL, 
	to_value TEXT NOT NULL, 
	comment TEXT NOT NULL, 
	PRIMARY KEY (id)
)
;
CREATE INDEX ix_registry_audit_name ON registry_audit (name, id)
;
CREATE TABLE registry_policies (
	name VARCHAR(256) NOT NULL, 
	document TEXT NOT NULL, 
	last_updated_timestamp BIGINT NOT NULL, 
	PRIMARY KEY (name)
)
;
CREATE TABLE transition_requests (
	id INTEGER NOT NULL, 
	model_pk INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	stage VARCHAR(20) NOT NULL, 
	archive_existing_versions BOOLEAN NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	user_id VARCHAR(256) NOT NULL, 
	comment TEXT NOT NULL, 
	resolved_timestamp BIGINT NOT NULL, 
	resolved_by VARCHAR(256) NOT NULL, 
	resolution_comment TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(model_pk, version) REFERENCES model_versions (model_pk, version) ON DELETE CASCADE
)
;
CREATE INDEX ix_transition_requests_version ON transition_requests (model_pk, version)
;
CREATE TABLE webhooks (
	id INTEGER NOT NULL, 
	url TEXT NOT NULL, 
	events TEXT NOT NULL, 
	secret VARCHAR(256) NOT NULL, 
	model VARCHAR(256) NOT NULL, 
	description TEXT NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	PRIMARY KEY (id)
)
;
CREATE TABLE webhook_deliveries (
	id INTEGER NOT NULL, 
	webhook_id INTEGER NOT NULL, 
	event_id VARCHAR(32) NOT NULL, 
	event VARCHAR(40) NOT NULL, 
	payload TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	next_attempt_timestamp BIGINT NOT NULL, 
	last_attempt_timestamp BIGINT NOT NULL, 
	last_status_code INTEGER NOT NULL, 
	last_error TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
)
;
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_timestamp)
;
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id)
;
CREATE TABLE webhook_attempts (
	id INTEGER NOT NULL, 
	delivery_id INTEGER NOT NULL, 
	timestamp BIGINT NOT NULL, 
	status_code INTEGER NOT NULL, 
	error TEXT NOT NULL, 
	duration_ms INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE
)
;
CREATE INDEX ix_webhook_attempts_delivery ON webhook_attempts (delivery_id, id)
;
CREATE TABLE logged_models (
	model_id VARCHAR(34) NOT NULL, 
	experiment_id INTEGER NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	artifact_location VARCHAR(2000) NOT NULL, 
	creation_timestamp BIGINT NOT NULL, 
	last_updated_timestamp BIGINT NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	status_message TEXT NOT NULL, 
	model_type VARCHAR(500) NOT NULL, 
	source_run_id VARCHAR(32), 
	lifecycle_stage VARCHAR(16) NOT NULL, 
	PRIMARY KEY (model_id), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id)
)
;
CREATE INDEX ix_logged_models_experiment_created ON logged_models (experiment_id, lifecycle_stage, creation_timestamp)
;
CREATE INDEX ix_logged_models_source_run ON logged_models (source_run_id)
;
CREATE TABLE logged_model_tags (
	model_id VARCHAR(34) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (model_id, "key"), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE logged_model_params (
	model_id VARCHAR(34) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (model_id, "key"), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE logged_model_metrics (
	model_id VARCHAR(34) NOT NULL, 
	"key" VARCHAR(250) NOT NULL, 
	timestamp BIGINT NOT NULL, 
	step BIGINT NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	value DOUBLE, 
	dataset_name VARCHAR(500) NOT NULL, 
	dataset_digest VARCHAR(36) NOT NULL, 
	PRIMARY KEY (model_id, "key", timestamp, step, run_id), 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE TABLE run_outputs (
	run_pk INTEGER NOT NULL, 
	model_id VARCHAR(34) NOT NULL, 
	step BIGINT NOT NULL, 
	PRIMARY KEY (run_pk, model_id), 
	FOREIGN KEY(run_pk) REFERENCES runs (run_pk) ON DELETE CASCADE, 
	FOREIGN KEY(model_id) REFERENCES logged_models (model_id) ON DELETE CASCADE
)
;
CREATE INDEX ix_run_outputs_model ON run_outputs (model_id)
;
CREATE TABLE users (
	user_id INTEGER NOT NULL, 
	username VARCHAR(256) NOT NULL, 
	password_hash VARCHAR(256) NOT NULL, 
	is_admin BOOLEAN NOT NULL, 
	creation_time BIGINT NOT NULL, 
	last_update_time BIGINT NOT NULL, 
	PRIMARY KEY (user_id), 
	UNIQUE (username)
)
;
CREATE TABLE api_tokens (
	token_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	name VARCHAR(256) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	creation_time BIGINT NOT NULL, 
	expiry_time BIGINT, 
	revoked_time BIGINT, 
	PRIMARY KEY (token_id), 
	FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE, 
	UNIQUE (token_hash)
)
;
CREATE INDEX ix_api_tokens_user ON api_tokens (user_id)
;
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	timestamp BIGINT NOT NULL, 
	username VARCHAR(256) NOT NULL, 
	action VARCHAR(300) NOT NULL, 
	resource VARCHAR(500) NOT NULL, 
	status INTEGER NOT NULL, 
	client VARCHAR(100) NOT NULL, 
	prev_hash VARCHAR(64) NOT NULL, 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
)
;
CREATE INDEX ix_audit_log_timestamp ON audit_log (timestamp)
;
CREATE INDEX ix_audit_log_username ON audit_log (username, id)
;
CREATE TABLE audit_head (
	id INTEGER NOT NULL, 
	last_id BIGINT NOT NULL, 
	last_hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
)
;
CREATE TABLE experiment_permissions (
	experiment_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(32) NOT NULL, 
	PRIMARY KEY (experiment_id, user_id), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE, 
	FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE
)
;
CREATE INDEX ix_experiment_permissions_user ON experiment_permissions (user_id, experiment_id)
;
CREATE TABLE registered_model_permissions (
	model_pk INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	permission VARCHAR(32) NOT NULL, 
	PRIMARY KEY (model_pk, user_id), 
	FOREIGN KEY(model_pk) REFERENCES registered_models (model_pk) ON DELETE CASCADE, 
	FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE
)
;
CREATE INDEX ix_registered_model_permissions_user ON registered_model_permissions (user_id, model_pk)
;
CREATE UNIQUE INDEX ix_experiments_name_key ON experiments (name_key)
;
INSERT INTO alembic_version (version_num) VALUES ('0008')
;
