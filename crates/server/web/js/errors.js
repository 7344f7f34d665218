// Server error codes -> sentences a person can act on. Codes are the stable ones from the API
// (issues 3 and 4); anything unknown falls back to the server's own message.
import { ApiError } from './api.js';

const SENTENCES = {
  network: 'We could not reach the server. Check your connection and try again.',
  unauthenticated: 'Your session has ended. Please log in again.',
  face_required: 'Please finish the face check first.',
  cross_origin: 'This request came from another site and was blocked. Reload the page and try again.',
  invalid_credentials: 'That username/email and password do not match. Check both and try again.',
  bad_request: 'The request was not understood. Reload the page and try again.',
  username_taken: 'That username is already taken. Please choose another.',
  email_taken: 'An account with that email already exists. Try logging in instead.',
  user_exists: 'An account with that username or email already exists.',
  invalid_username: 'Usernames are 3 to 32 letters, digits, dots, dashes or underscores.',
  invalid_email: 'Please enter a valid email address.',
  invalid_full_name: 'Please enter your full name.',
  password_too_short: 'Your password needs at least 8 characters.',
  password_too_long: 'That password is too long.',
  password_too_common: 'That password is one of the most common ones and easy to guess. Please pick another.',
  password_common: 'That password is one of the most common ones and easy to guess. Please pick another.',
  weak_password: 'That password is too easy to guess. Please pick a longer or less common one.',
  consent_required: 'Please tick the consent box: we cannot store your face template without it.',
  face_required_images: 'Please take a photo of your face first.',
  no_face: 'We could not find a face in the photo. Face the camera in good light and try again.',
  multiple_faces: 'More than one face is in the photo. Make sure only you are in view.',
  method_not_allowed: 'Something went wrong on our side. Please reload the page and try again.',
  faces_differ: 'The photos seem to show different people. Use photos of only your own face.',
  face_too_small: 'Your face is too small in the photo. Move closer to the camera and try again.',
  image_invalid: 'That image could not be read. Please use a JPEG or PNG photo.',
  image_too_large: 'That image is too large. Please use a smaller photo.',
  payload_too_large: 'That upload is too large. Please use a smaller photo.',
  too_large: 'That upload is too large. Please use a smaller photo.',
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
  liveness_failed: 'The live face check did not pass. Press "Try again" and follow each prompt.',
  timeout: 'The face check ran out of time. Press "Try again" and follow the prompts as they come.',
  cancelled: 'The face check was stopped. Press "Try again" when you are ready.',
  rate_limited: 'Too many requests. Please wait a moment and try again.',
  too_many_requests: 'Too many requests. Please wait a moment and try again.',
  busy: 'The server is busy right now. Please try again in a moment.',
  overloaded: 'The server is busy right now. Please try again in a moment.',
  service_unavailable: 'The server is busy right now. Please try again in a moment.',
  not_found: 'That was not found. It may have been deleted, or you may not have access.',
  channel_not_found: 'That conversation does not exist, or you are no longer a member.',
  message_not_found: 'That message no longer exists.',
  user_not_found: 'That person no longer has an account.',
  client_id_conflict: 'That message could not be sent twice. Reload the page and try again.',
  forbidden: 'You are not allowed to do that.',
  not_owner: 'Only the owner of this group can do that.',
  message_too_long: 'Messages can be at most 4,000 characters.',
  empty_message: 'Type a message first.',
  internal: 'Something went wrong on the server. Please try again.',
};

/** A sentence for an error thrown by the API layer (or anything else). */
export function describeError(err) {
  if (err instanceof ApiError) {
    if (err.code === 'conflict') {
      if (/email/i.test(err.message)) return SENTENCES.email_taken;
      if (/username/i.test(err.message)) return SENTENCES.username_taken;
      return SENTENCES.user_exists;
    }
    // invalid_request carries the server's own sentence naming the field and the reason.
    if (SENTENCES[err.code]) return SENTENCES[err.code];
    if (err.status >= 500) return SENTENCES.internal;
    if (err.status === 429) return SENTENCES.rate_limited;
    if (err.status === 413) return SENTENCES.payload_too_large;
    return err.message || 'Something went wrong. Please try again.';
  }
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
