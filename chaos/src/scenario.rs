//! Named fault schedules. A scenario is a list of timed faults whose targets
//! (the leader, a follower, a random member) are resolved when each fires,
//! with the run's seeded generator.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

/// Every scenario the runner knows, in the order it lists them.
pub const ALL: [Scenario; 10] = [
    Scenario::LeaderCrash,
    Scenario::FollowerCrash,
    Scenario::LeaderPartition,
    Scenario::FollowerPartition,
    Scenario::OneWayPartition,
    Scenario::FlappingPartition,
    Scenario::LatencyAndLoss,
    Scenario::RepeatedRestart,
    Scenario::ClusterRestart,
    Scenario::Combination,
];

/// A fault schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// The leader crashes and restarts, twice.
    LeaderCrash,
    /// A follower crashes and restarts, twice.
    FollowerCrash,
    /// The leader is cut off from the other members (clients still reach it).
    LeaderPartition,
    /// A follower is cut off from the other members.
    FollowerPartition,
    /// The leader's messages to the others are lost; theirs reach it.
    OneWayPartition,
    /// The leader's links stall and resume every few hundred milliseconds.
    FlappingPartition,
    /// Slow links and random link failures between members.
    LatencyAndLoss,
    /// One member crashes and restarts every couple of seconds.
    RepeatedRestart,
    /// Every member crashes at once, then all restart.
    ClusterRestart,
    /// A random mix of the faults above.
    Combination,
}

impl Scenario {
    /// The scenario's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LeaderCrash => "leader-crash",
            Scenario::FollowerCrash => "follower-crash",
            Scenario::LeaderPartition => "leader-partition",
            Scenario::FollowerPartition => "follower-partition",
            Scenario::OneWayPartition => "one-way-partition",
            Scenario::FlappingPartition => "flapping-partition",
            Scenario::LatencyAndLoss => "latency-and-loss",
            Scenario::RepeatedRestart => "repeated-restart",
            Scenario::ClusterRestart => "cluster-restart",
            Scenario::Combination => "combination",
        }
    }

    /// The scenario called `name`.
    pub fn parse(name: &str) -> Option<Scenario> {
        ALL.into_iter().find(|s| s.name() == name)
    }

    /// The timed faults of this scenario between `from` and `until` (when
    /// everything heals).
    pub fn schedule(
        self,
        rng: &mut StdRng,
        from: Duration,
        until: Duration,
    ) -> Vec<(Duration, Fault)> {
        let ms = Duration::from_millis;
        let mut at = from;
        let mut out = Vec::new();
        let push = |out: &mut Vec<(Duration, Fault)>, t: Duration, f: Fault| {
            if t < until {
                out.push((t, f));
            }
        };
        match self {
            Scenario::LeaderCrash | Scenario::FollowerCrash => {
                let target = if self == Scenario::LeaderCrash {
                    Target::Leader
                } else {
                    Target::Follower
                };
                while at < until {
                    push(&mut out, at, Fault::Crash(target));
                    at += ms(rng.gen_range(1_000..4_000));
                    push(&mut out, at, Fault::RestartCrashed);
                    at += ms(rng.gen_range(1_500..3_000));
                }
            }
            Scenario::LeaderPartition | Scenario::FollowerPartition | Scenario::OneWayPartition => {
                let fault = match self {
                    Scenario::LeaderPartition => Fault::Isolate(Target::Leader),
                    Scenario::FollowerPartition => Fault::Isolate(Target::Follower),
                    _ => Fault::IsolateOutbound(Target::Leader),
                };
                // Long enough for the majority to elect a leader: openraft
                // waits out the old leader's lease (the maximum election
                // timeout) before its own randomized timeout.
                while at < until {
                    push(&mut out, at, fault);
                    at += ms(rng.gen_range(4_000..8_000));
                    push(&mut out, at, Fault::Heal);
                    at += ms(rng.gen_range(1_000..2_500));
                }
            }
            Scenario::FlappingPartition => {
                while at < until {
                    push(&mut out, at, Fault::Stall(Target::Leader));
                    at += ms(rng.gen_range(100..1_500));
                    push(&mut out, at, Fault::Heal);
                    at += ms(rng.gen_range(100..800));
                }
            }
            Scenario::LatencyAndLoss => {
                push(&mut out, at, Fault::Latency(ms(rng.gen_range(20..150))));
                at += ms(rng.gen_range(1_000..3_000));
                while at < until {
                    push(
                        &mut out,
                        at,
                        Fault::LinkFailures(rng.gen_range(0.001..0.01)),
                    );
                    at += ms(rng.gen_range(1_000..3_000));
                    push(&mut out, at, Fault::Heal);
                    at += ms(rng.gen_range(500..1_500));
                }
            }
            Scenario::RepeatedRestart => {
                while at < until {
                    push(&mut out, at, Fault::Crash(Target::Any));
                    at += ms(rng.gen_range(300..1_500));
                    push(&mut out, at, Fault::RestartCrashed);
                    at += ms(rng.gen_range(800..2_000));
                }
            }
            Scenario::ClusterRestart => {
                while at < until {
                    push(&mut out, at, Fault::Crash(Target::All));
                    at += ms(rng.gen_range(200..2_000));
                    push(&mut out, at, Fault::RestartCrashed);
                    at += ms(rng.gen_range(3_000..5_000));
                }
            }
            Scenario::Combination => {
                while at < until {
                    let fault = match rng.gen_range(0..7) {
                        0 => Fault::Crash(Target::Leader),
                        1 => Fault::Crash(Target::Any),
                        2 => Fault::Isolate(Target::Leader),
                        3 => Fault::Isolate(Target::Follower),
                        4 => Fault::IsolateOutbound(Target::Leader),
                        5 => Fault::Stall(Target::Any),
                        _ => Fault::Latency(ms(rng.gen_range(20..150))),
                    };
                    push(&mut out, at, fault);
                    at += ms(rng.gen_range(500..3_000));
                    push(&mut out, at, Fault::RestartCrashed);
                    push(&mut out, at, Fault::Heal);
                    at += ms(rng.gen_range(500..2_000));
                }
            }
        }
        out
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which member a fault hits, resolved when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The current leader (a random member if there is none).
    Leader,
    /// A random member that is not the leader.
    Follower,
    /// A random member.
    Any,
    /// Every member.
    All,
}

/// One injected fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Crash (the process dies; its data on disk stays).
    Crash(Target),
    /// Restart every crashed member.
    RestartCrashed,
    /// Cut the member off from the other members both ways.
    Isolate(Target),
    /// Drop the member's messages to the other members.
    IsolateOutbound(Target),
    /// Hold the member's messages to and from the others until healed.
    Stall(Target),
    /// Messages between members take up to this long.
    Latency(Duration),
    /// Links between members fail (and repair) at random with this
    /// probability per step.
    LinkFailures(f64),
    /// Undo every network fault (crashed members stay down).
    Heal,
}
