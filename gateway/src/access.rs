//! Who is calling and what they may reach: a clerk works one register and reads its facility, an
//! operator works and reads its facilities, treasury reads everything, a device takes its
//! register's commands. The HTTP layer authenticates and puts a [`Caller`] on the request; the
//! rules here say what that caller may do, and refuse with a [`Refusal`] otherwise.

use pos_config::{Config, Facility, Role, Scope};
use pos_core::{FacilityId, RegisterId, UserName};

use crate::refusal::Refusal;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserName,
    pub role: Role,
    pub scope: Scope,
}

impl Caller {
    /// The facilities this caller may read, `None` meaning all of them.
    pub fn readable_facilities(&self, config: &Config) -> Option<Vec<FacilityId>> {
        match &self.scope {
            Scope::All => None,
            Scope::NoFacilities => Some(Vec::new()),
            Scope::Register { facility, .. } => Some(vec![facility.clone()]),
            Scope::Operator(operator) => Some(config.operator_facilities(operator).map(|f| f.id.clone()).collect()),
        }
    }

    pub fn can_read(&self, config: &Config, facility: &FacilityId) -> bool {
        self.readable_facilities(config).is_none_or(|facilities| facilities.contains(facility))
    }

    pub fn require_read(&self, config: &Config, facility: &FacilityId) -> Result<(), Refusal> {
        if self.can_read(config, facility) {
            Ok(())
        } else {
            Err(Refusal::forbidden(format!("{} may not see facility {facility}", self.user)))
        }
    }

    /// Ringing up, paying, voiding and shift work at a register.
    pub fn require_register(&self, facility: &Facility, register: &RegisterId) -> Result<(), Refusal> {
        let allowed = match (&self.role, &self.scope) {
            (Role::Clerk, Scope::Register { facility: own_facility, register: own_register }) => {
                own_facility == &facility.id && own_register == register
            }
            (Role::Operator, Scope::Operator(operator)) => {
                facility.owner == pos_config::Owner::Operator(operator.clone())
            }
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::forbidden(format!(
                "{} ({}) may not work register {register} of facility {}",
                self.user,
                self.role.code(),
                facility.id
            )))
        }
    }

    pub fn require_role(&self, roles: &[Role]) -> Result<(), Refusal> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.code()).collect();
            Err(Refusal::forbidden(format!(
                "this needs the role {}; {} is {}",
                names.join(" or "),
                self.user,
                self.role.code()
            )))
        }
    }

    /// Whether this caller supervises refunds at `facility`: treasury everywhere, a designated
    /// manager at the facilities it runs.
    pub fn supervises(&self, facility: &Facility) -> bool {
        match (&self.role, &self.scope) {
            (Role::Treasury, _) => true,
            (Role::Operator, Scope::Operator(operator)) => {
                facility.owner == pos_config::Owner::Operator(operator.clone())
            }
            _ => false,
        }
    }
}
