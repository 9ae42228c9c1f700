DROP TABLE login_logs;
DROP TABLE user_social;
DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE users;
