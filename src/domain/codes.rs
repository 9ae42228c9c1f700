//! The permission codes Portcullis itself checks, in fba's `module:resource:action` style.
//! Superusers hold them all; anyone else through a role (`portcullis role create`).

pub const USER_LIST: &str = "sys:user:list";
pub const USER_ADD: &str = "sys:user:add";
pub const USER_EDIT: &str = "sys:user:edit";
pub const USER_PASSWORD_RESET: &str = "sys:user:pwd:reset";
pub const USER_DELETE: &str = "sys:user:del";
pub const USER_MFA_RESET: &str = "sys:user:mfa:reset";
/// Any of these lets its holder see the user list: who administers users must see them.
pub const USER_ANY: &[&str] = &[
    USER_LIST,
    USER_ADD,
    USER_EDIT,
    USER_PASSWORD_RESET,
    USER_DELETE,
    USER_MFA_RESET,
];

pub const ONLINE_LIST: &str = "monitor:online:list";
pub const ONLINE_KICK: &str = "monitor:online:kick";
pub const ONLINE_ANY: &[&str] = &[ONLINE_LIST, ONLINE_KICK];

pub const LOGIN_LOG_LIST: &str = "log:login:list";
pub const LOGIN_LOG_DELETE: &str = "log:login:del";
pub const LOGIN_LOG_CLEAR: &str = "log:login:clear";
pub const LOGIN_LOG_ANY: &[&str] = &[LOGIN_LOG_LIST, LOGIN_LOG_DELETE, LOGIN_LOG_CLEAR];

/// Every code Portcullis itself checks: a superuser's `/auth/codes` lists them (with every code
/// a role grants), as fba answers a superuser every code it knows, so that a frontend that hides
/// what the codes do not name shows a superuser everything.
pub const BUILT_IN: &[&str] = &[
    USER_LIST,
    USER_ADD,
    USER_EDIT,
    USER_PASSWORD_RESET,
    USER_DELETE,
    USER_MFA_RESET,
    ONLINE_LIST,
    ONLINE_KICK,
    LOGIN_LOG_LIST,
    LOGIN_LOG_DELETE,
    LOGIN_LOG_CLEAR,
];
