"""`upgrade-check`: what moving to another Airflow 3 release would break or change, told before anyone moves.

An isolated environment of the new release (`environment`) parses every DAG and builds every task pod, which
are compared with the pods the current release builds (`pod_diff`); Airflow's migration rules (ruff's AIR rules,
`rules`) run over the DAG files and the chart values of the new release are checked against the chart's schema
(`chart_schema`). `check` runs them all into one report (`report`): a blocker fails it, a warning does not.
"""
