"""Named like the standard ``os``, which is loaded at start-up: never imported from here."""

sep = "never used"
