"""Charts as pure functions: DataFrame in, Plotly figure out, one module per chart family. No Streamlit here.

Pages import from the family's module (`dashboard.charts.turnaround`, …); `common` holds the shared styling.
"""
