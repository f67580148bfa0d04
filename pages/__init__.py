"""Dashboard pages: each module has `render(ctx)` and reads like a description of the screen."""
