//! Why a sign-in failed. Messages are safe to show the person signing in and to log:
//! they never quote a token, a code or a client secret.

use openidconnect::{ClaimsVerificationError, SignatureVerificationError};

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// Not signed by a key the provider publishes, or the signature does not match.
    Signature,
    /// Issued for another client (`aud`).
    Audience,
    /// Issued by another provider (`iss`).
    Issuer,
    /// Past its `exp`.
    Expired,
    /// The `nonce` is not the one this login sent.
    Nonce,
    /// Not a well-formed ID token, or another check failed.
    Malformed,
}

impl TokenRejection {
    pub(crate) fn of(e: &ClaimsVerificationError) -> TokenRejection {
        match e {
            ClaimsVerificationError::SignatureVerification(_) => TokenRejection::Signature,
            ClaimsVerificationError::InvalidAudience(_) => TokenRejection::Audience,
            ClaimsVerificationError::InvalidIssuer(_) => TokenRejection::Issuer,
            ClaimsVerificationError::Expired(_) => TokenRejection::Expired,
            ClaimsVerificationError::InvalidNonce(_) => TokenRejection::Nonce,
            _ => TokenRejection::Malformed,
        }
    }

    /// The token names a key the cached JWKS lacks: worth fetching the keys again.
    pub(crate) fn unknown_key(e: &ClaimsVerificationError) -> bool {
        matches!(
            e,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            )
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider's discovery document or keys could not be fetched or read.
    #[error("cannot read the identity provider's configuration at {issuer}: {reason}")]
    Discovery { issuer: String, reason: String },
    /// The callback's `state` is unknown, expired or already used.
    #[error("this sign-in link is unknown, expired or already used; start the sign-in again")]
    UnknownState,
    /// Too many sign-ins are waiting for their callback.
    #[error("too many sign-ins in progress; try again in a minute")]
    TooManyLogins,
    /// The provider answered the callback with an error (the person cancelled, …).
    #[error("the identity provider refused the sign-in: {0}")]
    Provider(String),
    /// The code could not be exchanged for tokens.
    #[error("the identity provider did not accept the sign-in code: {0}")]
    TokenExchange(String),
    /// The token response carried no ID token.
    #[error("the identity provider returned no ID token")]
    NoIdToken,
    /// The ID token failed validation.
    #[error("the ID token was refused ({kind:?}): {detail}")]
    IdToken {
        kind: TokenRejection,
        detail: String,
    },
    /// The claim that names the user is missing.
    #[error("the ID token has no `{0}` claim to name the user")]
    NoUsername(String),
    /// None of the person's groups maps to a Warden role.
    #[error("{user} signed in, but none of their groups ({groups}) maps to a Warden role")]
    NoRole { user: String, groups: String },
}

impl OidcError {
    pub(crate) fn id_token(e: &ClaimsVerificationError) -> OidcError {
        OidcError::IdToken {
            kind: TokenRejection::of(e),
            detail: e.to_string(),
        }
    }

    /// The token rejection, when this error is one.
    pub fn rejection(&self) -> Option<&TokenRejection> {
        match self {
            OidcError::IdToken { kind, .. } => Some(kind),
            _ => None,
        }
    }
}
