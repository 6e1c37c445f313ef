--- Talking to the tactful client across Neovim 0.10 and 0.11+.
---
--- 0.11 turned client functions into methods (`client:request`) and changed the signature of
--- `vim.str_byteindex`; this module hides both so the rest of the plugin reads the same on
--- every supported version. It never starts servers or touches buffers.

local M = {}

local has_011 = vim.fn.has("nvim-0.11") == 1

M.NAME = "tactful"

--- The tactful client attached to a buffer (the first one; there is one per root).
---@param buf integer
---@return vim.lsp.Client|nil
function M.client_for(buf)
  return vim.lsp.get_clients({ name = M.NAME, bufnr = buf })[1]
end

---@return vim.lsp.Client|nil
function M.any_client()
  local current = M.client_for(vim.api.nvim_get_current_buf())
  return current or vim.lsp.get_clients({ name = M.NAME })[1]
end

---@return boolean ok, integer|nil request_id
function M.request(client, method, params, handler, buf)
  if has_011 then
    return client:request(method, params, handler, buf)
  end
  return client.request(method, params, handler, buf)
end

function M.notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel(client, request_id)
  if has_011 then
    return client:cancel_request(request_id)
  end
  return client.cancel_request(request_id)
end

--- Ask the client to stop its server (`shutdown`, `exit`); `force` kills it.
function M.stop(client, force)
  if has_011 then
    return client:stop(force)
  end
  return client.stop(force)
end

function M.is_stopped(client)
  if has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- Run a server command with `workspace/executeCommand`; `done(err, result)` is optional.
function M.execute(client, command, arguments, buf, done)
  return M.request(client, "workspace/executeCommand", {
    command = command,
    arguments = arguments,
  }, function(err, result)
    if done then
      done(err, result)
    end
  end, buf)
end

--- Byte column in `line` of an LSP `character` counted in the client's position encoding.
---@param line string
---@param character integer
---@param encoding string "utf-8"|"utf-16"|"utf-32"
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local ok, col
  if has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == "utf-16")
  end
  if not ok then
    return #line
  end
  return col
end

--- Number of characters of `text` in the client's position encoding (for lengths on the wire).
---@param text string
---@return integer
function M.length(text)
  return vim.fn.strchars(text)
end

return M
