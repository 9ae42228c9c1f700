// The browser's WebAuthn calls for passkeys, with the server's JSON (binary values in
// base64url) turned into the ArrayBuffers the browser wants, and its answers back into JSON.

const toBuffer = (s) => {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
};
const toText = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export const passkeysWork = () => typeof window.PublicKeyCredential === 'function';

// Whether the browser offers passkeys in the username field's autofill.
export async function autofillWorks() {
  return passkeysWork() && (await PublicKeyCredential.isConditionalMediationAvailable?.()) === true;
}

// A new passkey for `options` (`navigator.credentials.create()`), as the server reads it.
export async function createPasskey(options) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = toBuffer(publicKey.challenge);
  publicKey.user.id = toBuffer(publicKey.user.id);
  for (const c of publicKey.excludeCredentials || []) c.id = toBuffer(c.id);
  const cred = await navigator.credentials.create({ publicKey });
  return {
    id: cred.id,
    rawId: toText(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toText(cred.response.attestationObject),
      clientDataJSON: toText(cred.response.clientDataJSON),
      transports: cred.response.getTransports?.() || [],
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

// A passkey's answer to `options` (`navigator.credentials.get()`); `extra` adds `mediation`
// and an abort `signal`.
export async function usePasskey(options, extra = {}) {
  const publicKey = structuredClone(options.publicKey);
  publicKey.challenge = toBuffer(publicKey.challenge);
  for (const c of publicKey.allowCredentials || []) c.id = toBuffer(c.id);
  const cred = await navigator.credentials.get({ publicKey, ...extra });
  return {
    id: cred.id,
    rawId: toText(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toText(cred.response.authenticatorData),
      clientDataJSON: toText(cred.response.clientDataJSON),
      signature: toText(cred.response.signature),
      userHandle: cred.response.userHandle ? toText(cred.response.userHandle) : null,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}
