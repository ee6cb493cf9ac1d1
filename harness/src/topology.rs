//! How the harness reaches Postgres, which decides whether the Postgres container publishes a
//! host port.

/// The network layout of a run.
///
/// In both layouts the app reaches Postgres by container name on the run's private bridge
/// network, and the app publishes its HTTP port on 127.0.0.1 for the harness's requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// Postgres publishes 5432 on a free port of 127.0.0.1 for the harness, and its pg_hba.conf
    /// is the image's, which accepts any role with a password from any address. This layout
    /// works wherever Docker runs, Docker Desktop included.
    #[default]
    PublishedPort,
    /// The layout of a production deployment: Postgres publishes no host port. Its pg_hba.conf
    /// accepts the app role only from the run network's subnet, and the harness's roles only
    /// from the network's gateway address, where the harness's connections come from. The
    /// harness connects to the container's address on the run network.
    ///
    /// NOTE: this needs a host that routes to Docker's bridge networks, as a Linux host running
    /// the engine does. Docker Desktop (macOS, Windows) runs the engine in a VM that the host
    /// cannot route to, so this layout cannot start there.
    ProductionLike,
}

impl Topology {
    /// Returns whether the Postgres container publishes a host port.
    pub fn publishes_postgres(self) -> bool {
        self == Self::PublishedPort
    }
}
