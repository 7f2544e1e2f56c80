"""Azure Functions entry point (Python v2 model): registers the blueprints, nothing else."""

import azure.functions as func

from blueprints import admin_api, timers

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(timers.bp)
app.register_functions(admin_api.bp)
