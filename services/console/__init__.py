"""The web console: calibration (zones, lines, ignore regions drawn on a people-free picture)
for installers, behind a login. See README.md."""
