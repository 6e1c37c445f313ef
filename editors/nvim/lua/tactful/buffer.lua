--- Per-buffer pieces the ghost-text and next-edit modules share: freeing a buffer's timer, and
--- detaching a buffer's state when tactful's client leaves it. Each module keeps its own tables.
local M = {}

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
