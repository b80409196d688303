//! Parsing of path parameters into domain ids (400 naming the parameter).

use super::error::ApiError;
use crate::domain::ids::{LoadTestId, OrgId, ProjectId, ScenarioId};

pub fn org(s: &str) -> Result<OrgId, ApiError> {
    OrgId::parse(s).map_err(|e| ApiError::param("org", format!("organization id {e}")))
}

pub fn project(s: &str) -> Result<ProjectId, ApiError> {
    ProjectId::parse(s).map_err(|e| ApiError::param("project", format!("project id {e}")))
}

pub fn load_test(s: &str) -> Result<LoadTestId, ApiError> {
    LoadTestId::parse(s).map_err(|e| ApiError::param("load_test_id", format!("load test id {e}")))
}

pub fn scenario(s: &str) -> Result<ScenarioId, ApiError> {
    ScenarioId::parse(s).map_err(|e| ApiError::param("scenario_id", format!("scenario id {e}")))
}

/// A display name: trimmed, 1..=200 characters, the user-text rule of `domain::user_text`.
pub fn display_name(field: &str, raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::field(field, format!("{field} must not be empty")));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::field(
            field,
            format!("{field} must be at most 200 characters"),
        ));
    }
    if let Err(e) = crate::domain::user_text::check(name, crate::domain::user_text::Lines::One) {
        return Err(ApiError::field(field, format!("{field} {e}")));
    }
    Ok(name.to_owned())
}
