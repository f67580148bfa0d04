"""Sources: reading what users have — files, mapping files, validation, the loaded dataset, warehouses."""
