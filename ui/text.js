// The page's words, in English and Chinese (the browser's first language picks).

export const LANG = (navigator.languages?.[0] || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
document.documentElement.lang = LANG === 'zh' ? 'zh-CN' : 'en';

const TEXT = {
  en: {
    signIn: 'Sign in', username: 'Username', password: 'Password', captcha: 'Captcha',
    newCaptcha: 'Captcha image: activate for a new one', with: 'Sign in with {0}',
    lockedHint: 'After repeated failures, sign-in from this address is paused for a while.',
    mfaCode: 'Code from your authenticator app, or a recovery code', mfaVerify: 'Verify',
    mfaAgain: 'Sign in again',
    rateLimited: 'Too many attempts. Try again in {0} s.',
    account: 'Account', admin: 'Admin', signOut: 'Sign out', signedInAs: 'Signed in as {0}',
    sessions: 'My sessions', device: 'Device', ip: 'IP', lastUsed: 'Last used', thisDevice: '(this device)',
    signOutDevice: 'Sign out this device', signOutEverywhere: 'Sign out everywhere',
    changePassword: 'Change password', oldPassword: 'Current password', newPassword: 'New password',
    confirmPassword: 'Confirm new password', save: 'Save', saved: 'Saved.',
    confirmIt: 'Please confirm it is you: enter your password', ok: 'OK', cancel: 'Cancel',
    linked: 'Linked accounts', bind: 'Link {0}', unbind: 'Unlink {0}', bound: 'Linked: {0}',
    roles: 'Roles', email: 'Email', nickname: 'Nickname', users: 'Users', online: 'Online sessions',
    loginLog: 'Login log', search: 'Search', create: 'Create user', status: 'Status',
    enabled: 'enabled', disabled: 'disabled', disable: 'Disable', enable: 'Enable',
    resetPassword: 'Reset password', setRoles: 'Roles…', kick: 'Kick out', user: 'User',
    method: 'Method', time: 'Time', result: 'Result', success: 'success', failure: 'failure',
    any: 'any', codes: 'Permission codes', roleIds: 'Role ids, comma-separated ({0})',
    exchanging: 'Signing you in…', nothing: 'Nothing here.', actions: 'Actions',
  },
  zh: {
    signIn: '登录', username: '用户名', password: '密码', captcha: '验证码',
    newCaptcha: '验证码图片：点击换一张', with: '使用 {0} 登录',
    lockedHint: '多次失败后，此地址的登录将暂停一段时间。',
    mfaCode: '身份验证器应用中的验证码，或一个恢复码', mfaVerify: '验证',
    mfaAgain: '重新登录',
    rateLimited: '尝试次数过多，请 {0} 秒后重试。',
    account: '账户', admin: '管理', signOut: '退出登录', signedInAs: '当前用户：{0}',
    sessions: '我的会话', device: '设备', ip: 'IP', lastUsed: '最近使用', thisDevice: '（本设备）',
    signOutDevice: '退出此设备', signOutEverywhere: '退出所有设备',
    changePassword: '修改密码', oldPassword: '当前密码', newPassword: '新密码',
    confirmPassword: '确认新密码', save: '保存', saved: '已保存。',
    confirmIt: '请输入密码以确认身份', ok: '确定', cancel: '取消',
    linked: '已绑定账号', bind: '绑定 {0}', unbind: '解绑 {0}', bound: '已绑定：{0}',
    roles: '角色', email: '邮箱', nickname: '昵称', users: '用户', online: '在线会话',
    loginLog: '登录日志', search: '搜索', create: '创建用户', status: '状态',
    enabled: '启用', disabled: '停用', disable: '停用', enable: '启用',
    resetPassword: '重置密码', setRoles: '角色…', kick: '强制下线', user: '用户',
    method: '方式', time: '时间', result: '结果', success: '成功', failure: '失败',
    any: '全部', codes: '权限标识', roleIds: '角色 ID，逗号分隔（{0}）',
    exchanging: '正在登录…', nothing: '暂无数据。', actions: '操作',
  },
};
export const t = (key, ...args) => (TEXT[LANG][key] ?? TEXT.en[key] ?? key).replace(/\{(\d)\}/g, (_, i) => args[i]);

