--- What the statusline says about tactful in a buffer: `require("tactful").status()`.
---
--- It follows, per client, the server's `tactful/status` notification and its `$/progress`
--- work (through Neovim's `LspProgress` event), and whether inline completions are on. Each
--- change fires `User TactfulStatus` and redraws the statuslines. It never talks to the server.

local M = {}

local clients = {} -- client id -> { server = table|nil, tasks = { token -> title } }
local inline_enabled = function()
  return true
end

local function changed()
  vim.api.nvim_exec_autocmds("User", { pattern = "TactfulStatus", modeline = false })
  vim.cmd("redrawstatus")
end

local function state_of(client_id)
  local state = clients[client_id]
  if not state then
    state = { tasks = {} }
    clients[client_id] = state
  end
  return state
end

--- The params of a `tactful/status` notification.
function M.server_said(client_id, params)
  if type(params) ~= "table" then
    return
  end
  state_of(client_id).server = params
  changed()
end

--- An `LspProgress` event's data (`{ client_id, params = { token, value } }`).
function M.progress(data)
  local params = data and data.params
  if not params or type(params.value) ~= "table" then
    return
  end
  local tasks = state_of(data.client_id).tasks
  local value = params.value
  if value.kind == "begin" then
    -- Titles may name the server already ("tactful: indexing the workspace").
    tasks[params.token] = (value.title or "working"):gsub("^tactful: ", "")
  elseif value.kind == "end" then
    tasks[params.token] = nil
  else
    return
  end
  changed()
end

function M.forget(client_id)
  clients[client_id] = nil
  changed()
end

--- Where to read whether inline completions are on in a buffer.
function M.follow_inline(enabled)
  inline_enabled = enabled
end

function M.refresh()
  changed()
end

--- A short text for the statusline: "" where tactful does not serve the buffer, else
--- "tactful: starting", "tactful: off", or "tactful: ENGINE" (the engine answering now) with
--- " · LLM starting", " · LLM down (LABEL)" or " · LLM failed" while a configured LLM does not
--- answer, " · unfiltered" when the acceptance filter is off and " · TASK" while the server
--- works on something long.
function M.line(buf)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  local client = vim.lsp.get_clients({ name = "tactful", bufnr = buf })[1]
  if not client then
    return ""
  end
  if not client.initialized then
    return "tactful: starting"
  end
  if not inline_enabled(buf) then
    return "tactful: off"
  end
  local state = clients[client.id] or { tasks = {} }
  local server = state.server or {}
  local parts = { "tactful: " .. (server.engine or "ready") }
  local llm = type(server.llm) == "table" and server.llm or nil
  if llm and llm.state == "down" then
    table.insert(parts, type(llm.label) == "string" and ("LLM down (" .. llm.label .. ")") or "LLM down")
  elseif llm and (llm.state == "starting" or llm.state == "failed") then
    table.insert(parts, "LLM " .. llm.state)
  end
  if server.filter and server.filter.enabled == false then
    table.insert(parts, "unfiltered")
  end
  local titles = {}
  for _, title in pairs(state.tasks) do
    table.insert(titles, title)
  end
  table.sort(titles)
  if titles[1] then
    table.insert(parts, titles[1])
  end
  return table.concat(parts, " · ")
end

return M
