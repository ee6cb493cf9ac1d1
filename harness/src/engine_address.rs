//! The engine address: the host at which the harness reaches the ports that the Docker engine
//! publishes, and the IP address the engine binds them to.
//!
//! With a local engine (a unix socket), published ports are bound to 127.0.0.1 and reached
//! there. With a remote engine (`DOCKER_HOST=tcp://HOST:PORT`), the ports open on the engine's
//! host, so the harness reaches them at HOST, and the engine binds them to HOST when it is an
//! IP address. `HARNESS_PUBLISH_IP` overrides the bind address, for example `0.0.0.0` when the
//! engine's host is behind NAT.

use std::net::Ipv4Addr;

use url::{Host, Url};

use crate::config::ConfigError;
use crate::docker::{DOCKER_HOST_VAR, docker_host};

/// Variable that overrides the IP address the engine binds published ports to.
pub const PUBLISH_IP_VAR: &str = "HARNESS_PUBLISH_IP";

/// Host of the published ports and the IP address the engine binds them to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineAddress {
    /// Host of the published ports: an IPv4 address or a name.
    host: Host<String>,
    /// Address given to the engine as the ports' `HostIp`.
    bind_ip: Ipv4Addr,
}

impl EngineAddress {
    /// Reads DOCKER_HOST and HARNESS_PUBLISH_IP from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let publish_ip = std::env::var(PUBLISH_IP_VAR)
            .ok()
            .filter(|value| !value.is_empty());
        Self::from_values(docker_host().as_deref(), publish_ip.as_deref())
    }

    /// Builds the address from a DOCKER_HOST value and a HARNESS_PUBLISH_IP value, either of
    /// which may be unset.
    pub fn from_values(
        docker_host: Option<&str>,
        publish_ip: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let host = match docker_host {
            Some(value) => engine_host(value)?,
            None => None,
        };
        let host = host.unwrap_or(Host::Ipv4(Ipv4Addr::LOCALHOST));

        let bind_ip = match publish_ip {
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                variable: PUBLISH_IP_VAR,
                value: value.to_owned(),
                expected: "an IPv4 address such as 0.0.0.0, without a port".to_owned(),
            })?,
            None => match &host {
                Host::Ipv4(ip) => *ip,
                // A name may resolve differently on the engine's host, so bind every address.
                _ => Ipv4Addr::UNSPECIFIED,
            },
        };
        Ok(Self { host, bind_ip })
    }

    /// Host of the published ports, such as `127.0.0.1`.
    pub fn host(&self) -> String {
        self.host.to_string()
    }

    /// IP address the engine binds published ports to.
    pub fn bind_ip(&self) -> Ipv4Addr {
        self.bind_ip
    }

    /// Base URL of a published HTTP port, without a trailing slash.
    pub fn http_url(&self, port: u16) -> String {
        format!("http://{}:{port}", self.host)
    }
}

/// Returns the host of a `tcp://`, `http://` or `https://` DOCKER_HOST, or `None` for a
/// `unix://` or `npipe://` socket, whose published ports are on this machine.
fn engine_host(docker_host: &str) -> Result<Option<Host<String>>, ConfigError> {
    let invalid = |expected: &str| ConfigError::Invalid {
        variable: DOCKER_HOST_VAR,
        value: docker_host.to_owned(),
        expected: expected.to_owned(),
    };
    let url = Url::parse(docker_host).map_err(|_| {
        invalid("an address such as unix:///var/run/docker.sock or tcp://HOST:2375")
    })?;
    match url.scheme() {
        "unix" | "npipe" => Ok(None),
        "tcp" | "http" | "https" => match url.host() {
            // A tcp:// URL is not a special scheme, so the url crate leaves an IPv4 address as
            // an opaque host name.
            Some(Host::Domain(name)) => match name.parse::<Ipv4Addr>() {
                Ok(ip) => Ok(Some(Host::Ipv4(ip))),
                Err(_) => Ok(Some(Host::Domain(name.to_owned()))),
            },
            Some(Host::Ipv4(ip)) => Ok(Some(Host::Ipv4(ip))),
            // testcontainers 0.28 reads IPv4 port mappings only.
            Some(Host::Ipv6(_)) => Err(invalid(
                "an IPv4 address or a host name; the harness does not support IPv6 engine \
                 addresses",
            )),
            None => Err(invalid(
                "a tcp:// address with a host, such as tcp://10.0.0.5:2375",
            )),
        },
        _ => Err(invalid(
            "a unix://, tcp://, http:// or https:// address; the harness does not support ssh://",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_address_cases() {
        // (DOCKER_HOST, HARNESS_PUBLISH_IP, host, bind ip)
        let cases = [
            (None, None, "127.0.0.1", "127.0.0.1"),
            (
                Some("unix:///var/run/docker.sock"),
                None,
                "127.0.0.1",
                "127.0.0.1",
            ),
            (Some("tcp://10.0.0.5:2375"), None, "10.0.0.5", "10.0.0.5"),
            (Some("tcp://127.0.0.2:2375"), None, "127.0.0.2", "127.0.0.2"),
            (
                Some("http://127.0.0.2:2375"),
                None,
                "127.0.0.2",
                "127.0.0.2",
            ),
            (
                Some("tcp://docker.internal:2376"),
                None,
                "docker.internal",
                "0.0.0.0",
            ),
            (
                Some("tcp://10.0.0.5:2375"),
                Some("0.0.0.0"),
                "10.0.0.5",
                "0.0.0.0",
            ),
            (None, Some("127.0.0.3"), "127.0.0.1", "127.0.0.3"),
        ];
        for (docker_host, publish_ip, host, bind_ip) in cases {
            let address = EngineAddress::from_values(docker_host, publish_ip)
                .expect("the address should be valid");
            let case = format!("DOCKER_HOST={docker_host:?} HARNESS_PUBLISH_IP={publish_ip:?}");
            assert_eq!(address.host(), host, "host for {case}");
            assert_eq!(address.bind_ip().to_string(), bind_ip, "bind ip for {case}");
        }
    }

    #[test]
    fn http_url_uses_engine_host() {
        let address = EngineAddress::from_values(Some("tcp://10.0.0.5:2375"), None)
            .expect("the address should be valid");
        assert_eq!(address.http_url(8080), "http://10.0.0.5:8080");
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases = [
            (Some("ssh://user@host"), None, DOCKER_HOST_VAR),
            (Some("not an address"), None, DOCKER_HOST_VAR),
            (None, Some("10.0.0.5:80"), PUBLISH_IP_VAR),
            (None, Some("localhost"), PUBLISH_IP_VAR),
            (None, Some("::1"), PUBLISH_IP_VAR),
            (Some("tcp://[::1]:2375"), None, DOCKER_HOST_VAR),
        ];
        for (docker_host, publish_ip, variable) in cases {
            let error = EngineAddress::from_values(docker_host, publish_ip)
                .expect_err("the address should be rejected");
            let message = error.to_string();
            assert!(
                message.contains(variable),
                "the error for {docker_host:?} / {publish_ip:?} should name {variable}: {message}"
            );
        }
    }
}
