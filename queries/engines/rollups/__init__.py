"""The rollups engine: large extracts as daily rollups (build, storage, read) served without ticket rows."""
