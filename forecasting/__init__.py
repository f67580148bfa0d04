"""Forecasts, capacity and queueing (Erlang) for planners. No Streamlit here."""
