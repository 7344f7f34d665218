//! The sign-in policy, in one place: which second step may complete a sign-in, given the first
//! step, the factors the account has and the operator's `auth.policy`.
//!
//! Level `full` always means two distinct factors. The paths:
//! - password, then the face (the default path), a passkey, an authenticator code or a
//!   recovery code (the non-biometric alternatives NIST SP 800-63B-4 §3.2.3 asks for);
//! - passkey (in place of the password), then the face or the password;
//! - recovery code or email reset link (a lost password), then the face or a passkey; the
//!   session may then set a new password without the old one.
//!
//! With `passkey_with_face` the face completes only a sign-in begun with a passkey.

pub use crate::storage::sessions::Factor;

use crate::config::SignInPolicy;

/// The state of the account's face factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaceFactor {
    Enrolled,
    /// Too many consecutive failures: usable again after a re-enrolment.
    Disabled,
    /// No template (an account whose templates were removed).
    None,
}

/// What the account has enrolled, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFactors {
    pub face: FaceFactor,
    pub passkeys: i64,
    pub totp: bool,
    pub recovery_codes_left: i64,
}

impl AccountFactors {
    fn has(&self, factor: Factor) -> bool {
        match factor {
            Factor::Password => true,
            Factor::Face => self.face == FaceFactor::Enrolled,
            Factor::Passkey => self.passkeys > 0,
            Factor::Totp => self.totp,
            Factor::RecoveryCode => self.recovery_codes_left > 0,
            // A reset link begins a sign-in; it never completes one.
            Factor::EmailLink => false,
        }
    }
}

/// Why a second step is refused, for the error message.
pub fn refusal(
    policy: SignInPolicy,
    first: Factor,
    second: Factor,
    account: &AccountFactors,
) -> Option<&'static str> {
    if first == second {
        return Some("the second step must be a different factor");
    }
    let path_exists = match first {
        Factor::Password => matches!(
            second,
            Factor::Face | Factor::Passkey | Factor::Totp | Factor::RecoveryCode
        ),
        Factor::Passkey => matches!(second, Factor::Face | Factor::Password),
        Factor::RecoveryCode | Factor::EmailLink => {
            matches!(second, Factor::Face | Factor::Passkey)
        }
        Factor::Face | Factor::Totp => false,
    };
    if !path_exists {
        return Some("that combination is not a sign-in path");
    }
    if second == Factor::Face && first != Factor::Passkey && policy == SignInPolicy::PasskeyWithFace
    {
        return Some("this server accepts the face only after a passkey");
    }
    if !account.has(second) {
        return Some(match second {
            Factor::Face if account.face == FaceFactor::Disabled => {
                "the face factor is disabled; use another factor, then re-enrol the face"
            }
            Factor::RecoveryCode => "no recovery code is left",
            _ => "the account has not set up that factor",
        });
    }
    None
}

/// The second steps that can complete a sign-in begun with `first`, in the order the sign-in
/// page offers them (the face first: it is the product's default).
pub fn second_steps(policy: SignInPolicy, first: Factor, account: &AccountFactors) -> Vec<Factor> {
    [
        Factor::Face,
        Factor::Passkey,
        Factor::Password,
        Factor::Totp,
        Factor::RecoveryCode,
    ]
    .into_iter()
    .filter(|&second| refusal(policy, first, second, account).is_none())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERYTHING: AccountFactors = AccountFactors {
        face: FaceFactor::Enrolled,
        passkeys: 1,
        totp: true,
        recovery_codes_left: 10,
    };
    const FACE_ONLY: AccountFactors = AccountFactors {
        face: FaceFactor::Enrolled,
        passkeys: 0,
        totp: false,
        recovery_codes_left: 0,
    };

    #[test]
    fn after_the_password_every_enrolled_second_factor_is_offered_face_first() {
        assert_eq!(
            second_steps(SignInPolicy::Default, Factor::Password, &EVERYTHING),
            [
                Factor::Face,
                Factor::Passkey,
                Factor::Totp,
                Factor::RecoveryCode
            ]
        );
        assert_eq!(
            second_steps(SignInPolicy::Default, Factor::Password, &FACE_ONLY),
            [Factor::Face]
        );
    }

    #[test]
    fn a_disabled_face_leaves_the_non_biometric_factors() {
        let account = AccountFactors {
            face: FaceFactor::Disabled,
            ..EVERYTHING
        };
        let steps = second_steps(SignInPolicy::Default, Factor::Password, &account);
        assert!(!steps.contains(&Factor::Face));
        assert_eq!(steps.len(), 3);
        assert!(refusal(
            SignInPolicy::Default,
            Factor::Password,
            Factor::Face,
            &account
        )
        .is_some_and(|r| r.contains("disabled")));
    }

    #[test]
    fn passkey_with_face_policy_refuses_password_then_face_but_not_passkey_then_face() {
        let policy = SignInPolicy::PasskeyWithFace;
        assert!(refusal(policy, Factor::Password, Factor::Face, &EVERYTHING).is_some());
        assert!(refusal(policy, Factor::Passkey, Factor::Face, &EVERYTHING).is_none());
        assert!(refusal(policy, Factor::Password, Factor::Totp, &EVERYTHING).is_none());
    }

    #[test]
    fn a_factor_never_completes_its_own_sign_in_and_codes_are_never_first() {
        for f in [Factor::Password, Factor::Passkey, Factor::RecoveryCode] {
            assert!(refusal(SignInPolicy::Default, f, f, &EVERYTHING).is_some());
        }
        assert!(second_steps(SignInPolicy::Default, Factor::Totp, &EVERYTHING).is_empty());
        assert!(second_steps(SignInPolicy::Default, Factor::Face, &EVERYTHING).is_empty());
    }

    #[test]
    fn a_recovery_code_sign_in_needs_the_face_or_a_passkey() {
        assert_eq!(
            second_steps(SignInPolicy::Default, Factor::RecoveryCode, &EVERYTHING),
            [Factor::Face, Factor::Passkey]
        );
        let no_face_no_key = AccountFactors {
            face: FaceFactor::Disabled,
            passkeys: 0,
            ..EVERYTHING
        };
        assert!(
            second_steps(SignInPolicy::Default, Factor::RecoveryCode, &no_face_no_key).is_empty()
        );
    }

    #[test]
    fn an_unset_factor_is_not_offered() {
        assert!(refusal(
            SignInPolicy::Default,
            Factor::Password,
            Factor::Totp,
            &FACE_ONLY
        )
        .is_some_and(|r| r.contains("not set up")));
        let used_up = AccountFactors {
            recovery_codes_left: 0,
            ..EVERYTHING
        };
        assert!(refusal(
            SignInPolicy::Default,
            Factor::Password,
            Factor::RecoveryCode,
            &used_up
        )
        .is_some_and(|r| r.contains("no recovery code")));
    }
}
