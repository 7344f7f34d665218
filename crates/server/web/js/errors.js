// Server error codes -> sentences a person can act on. The keys of API_SENTENCES are exactly the
// `code` enum of the error schema in /api/openapi.json (tests/browser/errors.test.mjs checks both
// ways); codes the page or the live check's socket make themselves are in LOCAL_SENTENCES.
import { ApiError } from './api.js';

export const API_SENTENCES = {
  unauthenticated: 'Your session has ended. Please log in again.',
  face_required: 'Please finish the face check first.',
  cross_origin: 'This request came from another site and was blocked. Reload the page and try again.',
  invalid_credentials: 'That username/email and password do not match. Check both and try again.',
  // The server's own message names the field and the reason.
  invalid_request: null,
  // Worded by what is taken: see CONFLICTS.
  conflict: null,
  password_too_short: 'Your password needs at least 8 characters.',
  password_too_long: 'That password is too long.',
  password_too_common: 'That password is one of the most common ones and easy to guess. Please pick another.',
  consent_required: 'Please tick the consent box: we cannot store your face template without it.',
  no_face: 'We could not find a face in the photo. Face the camera in good light and try again.',
  multiple_faces: 'More than one face is in the photo. Make sure only you are in view.',
  method_not_allowed: 'Something went wrong on our side. Please reload the page and try again.',
  faces_differ: 'The photos seem to show different people. Use photos of only your own face.',
  face_too_small: 'Your face is too small in the photo. Move closer to the camera and try again.',
  image_invalid: 'That image could not be read. Please use a JPEG or PNG photo.',
  payload_too_large: 'That upload is too large. Please use a smaller photo.',
  attachment_quota_exceeded: 'Your files have used up your storage. Delete some messages with files, or send a smaller one.',
  face_mismatch: "That didn't match the face enrolled for this account. Check your lighting, face the camera and try again.",
  locked_out: 'Too many failed face checks. Please wait before trying again.',
  reauth_required: 'For this change you need a fresh sign-in. Please log out, then log in again with your password and face.',
  face_disabled: 'The face check is disabled for this account after too many failed attempts. Finish signing in another way (a passkey, an authenticator code or a recovery code) and re-enrol your face in the settings, or ask the server operator for help.',
  factor_not_accepted: 'That way of signing in cannot finish this sign-in. Choose another one.',
  code_invalid: 'That code is wrong, expired or already used. Check it and try again.',
  passkey_invalid: 'That passkey was not accepted. Try again, or use another way to sign in.',
  passkeys_unavailable: 'Passkeys do not work at this address. Open the site at its public address (or http://localhost).',
  challenge_invalid: 'That face check expired or was already used. Press Verify to try again.',
  upgrade_required: 'The face check could not start. Reload the page and try again.',
  enrolment_invalid: 'Your face capture expired or was already used. Capture your face again.',
  liveness_required: 'This server checks your face live with the camera. Reload the page and press "Start face check".',
  rate_limited: 'Too many requests. Please wait a moment and try again.',
  busy: 'The server is busy right now. Please try again in a moment.',
  not_found: 'That was not found. It may have been deleted, or you may not have access.',
  client_id_conflict: 'That message could not be sent twice. Reload the page and try again.',
  forbidden: 'You are not allowed to do that.',
  internal: 'Something went wrong on the server. Please try again.',
};

/** `conflict` answers name the field that is taken. */
const CONFLICTS = {
  email: 'An account with that email already exists. Try logging in instead.',
  username: 'That username is already taken. Please choose another.',
  other: 'An account with that username or email already exists.',
};

/** Codes that no HTTP answer carries: the page's own, and the live check socket's results. */
export const LOCAL_SENTENCES = {
  network: 'We could not reach the server. Check your connection and try again.',
  message_too_long: 'Messages can be at most 4,000 characters.',
  liveness_failed: 'The live face check did not pass. Press "Try again" and follow each prompt.',
  timeout: 'The face check ran out of time. Press "Try again" and follow the prompts as they come.',
  cancelled: 'The face check was stopped. Press "Try again" when you are ready.',
};

/** A sentence for an error thrown by the API layer (or anything else). */
export function describeError(err) {
  if (err instanceof ApiError) {
    if (err.code === 'conflict') {
      if (/email/i.test(err.message)) return CONFLICTS.email;
      if (/username/i.test(err.message)) return CONFLICTS.username;
      return CONFLICTS.other;
    }
    // A limit that says when it lifts: say it too.
    if (err.code === 'rate_limited' && err.retryAfter) {
      return `Too many requests. Please wait ${Math.max(1, Math.ceil(err.retryAfter))} s and try again.`;
    }
    const sentence = API_SENTENCES[err.code] || LOCAL_SENTENCES[err.code];
    if (sentence) return sentence;
    if (err.status >= 500) return API_SENTENCES.internal;
    if (err.status === 429) return API_SENTENCES.rate_limited;
    if (err.status === 413) return API_SENTENCES.payload_too_large;
    return err.message || 'Something went wrong. Please try again.';
  }
  if (err && LOCAL_SENTENCES[err.code]) return LOCAL_SENTENCES[err.code];
  return 'Something went wrong in this page. Please reload and try again.';
}

/** Which form field an error code is about, so the page can focus and mark it. */
export function fieldForError(code, message = '') {
  if (code === 'conflict' || code === 'invalid_request') {
    for (const name of ['username', 'email', 'full_name', 'password', 'consent']) {
      if (message.toLowerCase().includes(name.replace('_', ' ')) || message.includes(name)) return name;
    }
    return null;
  }
  if (/^(username|invalid_username|user_exists)/.test(code)) return 'username';
  if (/email/.test(code)) return 'email';
  if (/full_name/.test(code)) return 'full_name';
  if (/password/.test(code)) return 'password';
  if (/consent/.test(code)) return 'consent';
  return null;
}
