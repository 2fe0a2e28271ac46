"""Orders, couriers and the OR-Tools planners (see ARCHITECTURE.md); filled in by later issues."""
