// Passkeys in the browser: the server's WebAuthn options (JSON, binary fields in base64url) are
// turned into what navigator.credentials expects, and the credential the browser returns back
// into JSON for the server. Nothing here decides anything: the server verifies every signature.

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function toBase64Url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const withBinaryId = (list) => (list || []).map((c) => ({ ...c, id: fromBase64Url(c.id) }));

/** True when this browser, on this page, can use passkeys at all. */
export function passkeysSupported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
}

/** Runs navigator.credentials.create with the server's creation options; JSON for the server. */
export async function createPasskey(options) {
  const publicKey = {
    ...options.publicKey,
    challenge: fromBase64Url(options.publicKey.challenge),
    user: { ...options.publicKey.user, id: fromBase64Url(options.publicKey.user.id) },
    excludeCredentials: withBinaryId(options.publicKey.excludeCredentials),
  };
  const credential = await navigator.credentials.create({ publicKey });
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: toBase64Url(credential.response.attestationObject),
      clientDataJSON: toBase64Url(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : undefined,
    },
    extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  };
}

/** Runs navigator.credentials.get with the server's request options; JSON for the server. */
export async function getPasskey(options) {
  const publicKey = {
    ...options.publicKey,
    challenge: fromBase64Url(options.publicKey.challenge),
    allowCredentials: withBinaryId(options.publicKey.allowCredentials),
  };
  const credential = await navigator.credentials.get({ publicKey, mediation: options.mediation });
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toBase64Url(r.authenticatorData),
      clientDataJSON: toBase64Url(r.clientDataJSON),
      signature: toBase64Url(r.signature),
      userHandle: r.userHandle ? toBase64Url(r.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  };
}

/** A sentence for a browser-side passkey failure (the user cancelled, no passkey here...). */
export function describePasskeyFailure(err) {
  if (err && err.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again when you are ready.';
  if (err && err.name === 'InvalidStateError') return 'This authenticator already holds a passkey for your account.';
  if (err && err.name === 'SecurityError') return 'Passkeys do not work at this address. Open the site at its public address (or http://localhost).';
  return 'The passkey could not be used in this browser.';
}
