"""Streamlit app shell: entry point, sources, filters, cached loaders, charts and shared widgets."""
