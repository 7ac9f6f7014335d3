"""The anomaly vocabulary: every ``anomalyType`` a skill may raise, in one place.

Skills raise these; the rule-based analyst reasons over them; the CRD documents
them. A new anomaly type is added here first.
"""

from __future__ import annotations

from typing import Final

# os skill (host level)
MEMORY_PRESSURE: Final = "memory_pressure"  # used memory % high, or PSI memory stalls
SWAP_PRESSURE: Final = "swap_pressure"
CPU_SATURATION: Final = "cpu_saturation"  # utilisation or load per core high
IOWAIT_HIGH: Final = "iowait_high"
CPU_STEAL: Final = "cpu_steal"
CPU_STALL: Final = "cpu_stall"  # PSI cpu
IO_STALL: Final = "io_stall"  # PSI io
DISK_FULL: Final = "disk_full"
INODE_EXHAUSTION: Final = "inode_exhaustion"
NETWORK_ERRORS: Final = "network_errors"

# processes skill
ZOMBIE_PROCESSES: Final = "zombie_processes"
PROCESS_MEMORY_HOG: Final = "process_memory_hog"
PROCESS_CPU_HOG: Final = "process_cpu_hog"
FD_EXHAUSTION: Final = "fd_exhaustion"
PID_EXHAUSTION: Final = "pid_exhaustion"  # process/thread count near pid_max / fork storm

# containers skill (cgroups)
CONTAINER_OOM_KILLED: Final = "container_oom_killed"
CONTAINER_MEMORY_NEAR_LIMIT: Final = "container_memory_near_limit"
CPU_THROTTLING: Final = "cpu_throttling"
PIDS_NEAR_LIMIT: Final = "pids_near_limit"

# cluster skills (Kubernetes API)
POD_OOM_KILLED: Final = "pod_oom_killed"
CRASH_LOOP: Final = "crash_loop"
IMAGE_PULL_FAILURE: Final = "image_pull_failure"
CONFIG_ERROR: Final = "config_error"  # CreateContainerConfigError: missing ConfigMap/Secret key
PROBE_FAILURE: Final = "probe_failure"
POD_PENDING: Final = "pod_pending"
POD_EVICTED: Final = "pod_evicted"
NODE_NOT_READY: Final = "node_not_ready"
NODE_PRESSURE: Final = "node_pressure"  # MemoryPressure / DiskPressure / PIDPressure
ROLLOUT_STUCK: Final = "rollout_stuck"
PVC_PENDING: Final = "pvc_pending"
DNS_FAILURE: Final = "dns_failure"
LOG_ERRORS: Final = "log_errors"
WARNING_EVENTS: Final = "warning_events"

# the learned baseline (any numeric metric)
BASELINE_DEVIATION: Final = "baseline_deviation"
