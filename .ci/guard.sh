# shellcheck shell=bash
# Sourced by the .ci/ scripts that change the machine they run on (system packages, PostgreSQL opened to the pod
# networks and its database dropped, daemons started as root, processes stopped): they run where CI=true (this
# repository's CI machine through .ci/run, GitHub's runners) or when asked, never by surprise on a laptop.
# Background processes a run starts are recorded by pid under the clone's .state/, and the next run stops those
# alone: never every process of a name on the machine (another clone's, a developer's own).

CI_PIDS=.state/ci-run.pids

# require_ci SCRIPT WHAT HOW: refuse in one line unless CI=true.
require_ci() {
  [ "${CI:-}" = true ] && return 0
  echo "error: $1 changes this machine ($2) and runs only where CI=true -- to run it here anyway: $3" >&2
  exit 2
}

# ci_started PID MATCH: a background process this run started; MATCH is a part of its command line.
ci_started() {
  mkdir -p .state && chmod 700 .state
  echo "$1 $2" >> "$CI_PIDS"
}

# stop_recorded PID MATCH [group]: stop it while its command line still holds MATCH (a pid the system has given
# to another process since is left alone); `group`: the process leads a session of its own, stopped as one.
stop_recorded() {
  local args
  args=$(ps -ww -o args= -p "$1" 2>/dev/null) || return 0
  [[ "$args" == *"$2"* ]] || return 0
  if [ "${3:-}" = group ]; then kill -TERM -- "-$1" 2>/dev/null || true; else kill -TERM "$1" 2>/dev/null || true; fi
  echo "stopped pid $1 ($2), left running by an earlier run of this clone"
}

# ci_stop_leftovers: what earlier runs of this clone left running: the processes they recorded, and the UI
# port-forward loops `up` started for their targets (pid files under .state/TARGET/, "PID COMMAND...").
ci_stop_leftovers() {
  local pid match file
  if [ -f "$CI_PIDS" ]; then
    while read -r pid match; do stop_recorded "$pid" "$match"; done < "$CI_PIDS"
    rm -f "$CI_PIDS"
  fi
  for file in .state/*/*.pid; do
    [ -f "$file" ] || continue
    read -r pid match < "$file" || true
    [[ "$match" == *automation.k8s.forward_loop* ]] && stop_recorded "$pid" automation.k8s.forward_loop group
  done
  return 0
}
