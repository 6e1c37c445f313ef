--- Per-buffer pieces the ghost-text and next-edit modules share: which buffer `0` or nil means,
--- their `User` autocommands, hiding what a buffer shows, cancelling its request in flight,
--- debouncing and freeing its timer, and detaching its state when tactful's client leaves it.
--- Each module keeps its own tables and passes them in.
local rpc = require("tactful.rpc")

local M = {}

--- The buffer a public function means: `buf`, or the current buffer for nil or 0.
function M.resolve(buf)
  if buf == nil or buf == 0 then
    return vim.api.nvim_get_current_buf()
  end
  return buf
end

--- Fires the `User` autocommand `pattern` with `data`.
function M.emit(pattern, data)
  vim.api.nvim_exec_autocmds("User", { pattern = pattern, data = data, modeline = false })
end

--- Forgets what `shown[buf]` holds and clears the namespace `ns` in `buf`.
function M.clear(shown, ns, buf)
  shown[buf] = nil
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  end
end

--- Cancels the request in flight in `pending[buf]` (`{ client_id, request_id }`), if there is one.
function M.cancel_pending(pending, buf)
  local request = pending[buf]
  pending[buf] = nil
  if request then
    local client = vim.lsp.get_client_by_id(request.client_id)
    if client then
      rpc.cancel(client, request.request_id)
    end
  end
end

--- Runs `fn` (on the main loop) `ms` milliseconds after the last call for `buf`.
function M.debounce(timers, buf, ms, fn)
  local timer = timers[buf]
  if not timer then
    timer = (vim.uv or vim.loop).new_timer()
    timers[buf] = timer
  end
  timer:stop()
  timer:start(ms, 0, vim.schedule_wrap(fn))
end

--- Stops and frees `timers[buf]`, if there is one.
function M.free_timer(timers, buf)
  if timers[buf] then
    timers[buf]:stop()
    timers[buf]:close()
    timers[buf] = nil
  end
end

--- Calls `detach(buf)` when `client` detaches from `buf` (an autocommand in `group`).
function M.detach_with(group, buf, client, detach)
  vim.api.nvim_create_autocmd("LspDetach", {
    group = group,
    buffer = buf,
    callback = function(args)
      if args.data and args.data.client_id == client.id then
        detach(buf)
      end
    end,
  })
end

return M
