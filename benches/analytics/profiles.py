"""Workload profiles: the shape of the ordinary weeks and the intensity of incidents.

`default` is the workload the evaluation table in docs/analytics.md was first built on.
`alt` changes the shape to test that the detectors generalise beyond it (another
organisation's log): more users in another role mix (with a `qa` role and a support
late shift), another time zone (a fixed UTC offset, by default one of four chosen by the
seed; the engine is replayed with its default settings, UTC and 07:00–20:00), heavier
ordinary noise (more typo logins and failing actions, more
denials, late nights, evening returns after a break, early starts, weekend work, more
roaming addresses and legitimate new targets) and incidents closer to the detectors'
default thresholds (but still at or above them: a label below a detector's own
definition would be a wrong label, not a miss).

Plain data; no I/O.
"""

DEFAULT = {
    "name": "default",
    "users": 48,
    "role_mix": ["developer"] * 12 + ["analyst"] * 6 + ["sre"] * 5 + ["dba"] * 3 + ["support"] * 6
    + ["finance"] * 4,
    "utc_offsets": [0.0],
    "late_shift": 0.0,        # share of support users working 14:00-22:00 instead
    "weekday_work": 0.92,     # chance a person works a given weekday
    "weekend_work": 0.05,
    "login_typo": (0.01, 0.05, 3),  # per login: r < first: 2..max failures; r < second: 1
    "action_error": 0.03,
    "error_cluster": (0.01, 3, 6),  # P(cluster) per burst, its size range
    "deny_rate": 0.005,       # developers' occasional denials
    "late_night": (0.03, 1.5, 3.5),  # P, extra hours range (continuing the day)
    "evening_return": 0.0,    # P of logging in again in the evening after a break
    "early_start": 0.0,       # P of starting 2-3 hours early
    "vpn_share": 0.3,
    "shared_exit": 0.4,
    "new_targets": 4,
    "vacation_share": 0.25,
    # incident intensities
    "burst": ((6, 14), (30, 300)),            # failures, seconds
    "spray": ((3, 8), (5, 14), (180, 1500)),  # fake names, real victims, seconds
    "off_hours": (0.5, 4.5),                  # local hours
    "volume_rows": ((4, 12), (200000, 1000000)),
    "volume_actions": ((400, 900), (1800, 2700)),
    "denials": ((10, 30), (240, 600)),
    "errors": ((20, 40), (300, 720), (0.6, 0.9)),
    "errors_min": 0,
    "repetition": ((50, 150), (1.0, 2.5)),    # count, per second
}

ALT = dict(DEFAULT)
ALT.update({
    "name": "alt",
    "users": 64,
    "role_mix": ["developer"] * 8 + ["support"] * 10 + ["sre"] * 7 + ["qa"] * 5 + ["analyst"] * 4
    + ["dba"] * 2 + ["finance"] * 3,
    # Singapore, US Central, India, Brazil: the engine runs on UTC defaults.
    "utc_offsets": [8.0, -6.0, 5.5, -3.0],
    "late_shift": 0.4,
    "weekday_work": 0.88,
    "weekend_work": 0.10,
    "login_typo": (0.03, 0.11, 4),
    "action_error": 0.05,
    "error_cluster": (0.02, 3, 8),
    "deny_rate": 0.01,
    "late_night": (0.07, 1.5, 4.0),
    "evening_return": 0.04,
    "early_start": 0.03,
    "vpn_share": 0.5,
    "shared_exit": 0.5,
    "new_targets": 8,
    "vacation_share": 0.3,
    "burst": ((5, 10), (60, 480)),
    "spray": ((2, 5), (3, 8), (300, 1700)),
    "off_hours": (23.5, 28.5),
    "volume_rows": ((3, 8), (150000, 800000)),
    "volume_actions": ((350, 700), (1800, 2700)),
    "denials": ((8, 20), (240, 570)),
    "errors": ((18, 35), (300, 780), (0.55, 0.85)),
    "errors_min": 10,  # at least the detector's floor fail
    "repetition": ((40, 100), (0.7, 1.5)),
})

PROFILES = {"default": DEFAULT, "alt": ALT}
