--- Handlers for tactful's own LSP notifications, by method; given to every tactful client.
---
--- Add one by assigning `require("tactful.handlers")["tactful/…"] = function(err, result, ctx)`
--- before the server starts. Methods Neovim handles itself (diagnostics, progress, messages) are
--- not here: Neovim's defaults show them.

local ghost = require("tactful.ghost")
local status = require("tactful.status")

local M = {}

--- `tactful/status`: the engine in use, the filter, trust; sent after `initialized` and when
--- settings or trust change.
M["tactful/status"] = function(_, result, ctx)
  status.server_said(ctx.client_id, result)
end

--- `tactful/verdictsChanged {uri, version}`: the tests gave a verdict on a fix of that document,
--- so its code actions (whose titles carry the verdicts) are worth asking for again. Whatever
--- draws them (a light bulb plugin, a statusline) listens to `User TactfulVerdicts`.
M["tactful/verdictsChanged"] = function(_, result)
  local uri = type(result) == "table" and result.uri or nil
  local buf = uri and vim.fn.bufnr(vim.uri_to_fname(uri)) or -1
  if buf > 0 and vim.api.nvim_buf_is_loaded(buf) then
    vim.api.nvim_exec_autocmds("User", {
      pattern = "TactfulVerdicts",
      modeline = false,
      data = { buf = buf, uri = uri, version = result.version },
    })
  end
end

--- `tactful/inlineCompletionReady`: an answer the server worked on in the background (the LLM's)
--- is ready for a moment of a buffer; asked for again if the cursor is still there.
M["tactful/inlineCompletionReady"] = function(_, result, ctx)
  ghost.ready(ctx.client_id, result)
end

return M
